import KaroKarMessages
@testable import KaroKarRPC
@testable import KaroKarRPCServer
import KaroKarServices
import KaroKarTestSupport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// One timer per connection serves every call's deadline (CallDeadlineTimer): each deadline must
/// still fire at its own time, whatever order the calls arrive in. Both ways of starting call
/// tasks (on the event loop until the first suspension, or on the global executor) are covered.
@Suite("Deadlines and many calls on one connection")
struct DeadlineTests {
    @Test(arguments: [true, false])
    func eachDeadlineFiresOnItsOwn(startsCallsOnEventLoop: Bool) async throws {
        // Loops of its own: it times the server's answers against the client's fallback (200 ms
        // after each deadline), and the shared loops also carry the other suites' heavy frames.
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let service = SlowEchoService()
        let (server, address) = try await service.startServer(
            limits: ServerLimits(), startsCallsOnEventLoop: startsCallsOnEventLoop, group: loops
        )
        let client = RPCClient(configuration: .init(host: "127.0.0.1", port: address.port!), group: loops)
        let echo = RPCV1.DiagnosticsService.Client(client)
        let order = LockedStrings()
        // Arrival order 2000, 300, none, 600 ms: the second call must pull the timer earlier.
        let calls: [(String, Duration?, Int)] = [("2000ms", .milliseconds(2000), 5_000), ("300ms", .milliseconds(300), 5_000),
                                                 ("none", nil, 50), ("600ms", .milliseconds(600), 5_000)]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (name, timeout, sleep) in calls {
                group.addTask {
                    do {
                        _ = try await echo.echo(.sleep(sleep), options: CallOptions(timeout: timeout))
                        order.append(name + ": OK")
                    } catch let error as RPCError {
                        // The server's answer, not the client's own fallback timer.
                        #expect(error == RPCError(.deadlineExceeded, "deadline exceeded"), "\(name)")
                        order.append(name + ": DEADLINE_EXCEEDED")
                    }
                }
                try await eventually { service.startedCalls == calls.firstIndex { $0.0 == name }! + 1 }
            }
            try await group.waitForAll()
        }
        #expect(order.all == ["none: OK", "300ms: DEADLINE_EXCEEDED", "600ms: DEADLINE_EXCEEDED", "2000ms: DEADLINE_EXCEEDED"])
        try await eventually { service.cancelledCalls == 3 }
        await client.close()
        await server.close()
        try await loops.shutdownGracefully()
    }

    @Test(arguments: [true, false])
    func manyCallsAnsweredInAnyOrder(startsCallsOnEventLoop: Bool) async throws {
        let service = SlowEchoService()
        let (server, address) = try await service.startServer(limits: ServerLimits(), startsCallsOnEventLoop: startsCallsOnEventLoop)
        let client = RPCClient(configuration: .init(host: "127.0.0.1", port: address.port!), group: TestServer.group)
        let echo = RPCV1.DiagnosticsService.Client(client)
        let results = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for index in 0..<200 {
                group.addTask {
                    let request = index % 5 == 0 ? RPCV1.EchoRequest.sleep(index % 30) : RPCV1.EchoRequest(payload: [UInt8(index % 256), 7])
                    return (index, try await echo.echo(request).payload)
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(results.count == 200)
        for (index, payload) in results {
            #expect(payload == (index % 5 == 0 ? Array("sleep:\(index % 30)".utf8) : [UInt8(index % 256), 7]))
        }
        await client.close()
        await server.close()
    }

    /// The handler sees the deadline the client sent (capped at a day), measured from when the
    /// server read the call, whichever way its task starts.
    @Test(arguments: [true, false])
    func theHandlerSeesItsDeadline(startsCallsOnEventLoop: Bool) async throws {
        let service = SlowEchoService()
        let (server, address) = try await service.startServer(limits: ServerLimits(), startsCallsOnEventLoop: startsCallsOnEventLoop)
        let client = RPCClient(configuration: .init(host: "127.0.0.1", port: address.port!), group: TestServer.group)
        let echo = RPCV1.DiagnosticsService.Client(client)
        func millisecondsLeft(_ timeout: Duration?) async throws -> String {
            String(decoding: try await echo.echo(RPCV1.EchoRequest(payload: Array("deadline".utf8)), options: CallOptions(timeout: timeout)).payload, as: UTF8.self)
        }
        // The clock's origin at least 2 s ago: a deadline counted from it instead of from the call
        // would come out 2 s short.
        let age = ContinuousClock.now - CallClock.origin
        if age < .seconds(2) { try await Task.sleep(for: .seconds(2) - age) }
        #expect(try await millisecondsLeft(nil) == "none")
        let left = try #require(Double(try await millisecondsLeft(.seconds(30))))
        #expect(left > 29_000 && left <= 30_000)
        let capped = try #require(Double(try await millisecondsLeft(.seconds(10 * 86_400))))
        #expect(capped > 86_399_000 && capped <= 86_400_000)
        await client.close()
        await server.close()
    }

    /// Issue 19, finding 12: a deadline that has passed when its call starts is answered
    /// DEADLINE_EXCEEDED and its handler does not run, on both paths. Immediate handlers answered
    /// a 1 µs deadline with OK, and a task started on the event loop ran its handler to the end.
    @Test(arguments: [true, false])
    func aDeadlinePassedWhenTheCallStartsIsExceeded(immediateHandler: Bool) async throws {
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let immediate = ImmediateCallTests.ImmediateEcho()
        let slow = SlowEchoService()
        var configuration = RPCServer.Configuration()
        configuration.port = 0
        configuration.services = [immediateHandler ? immediate.definition : slow.serviceDefinition()]
        var logger = Logger(label: "deadline-test")
        logger.logLevel = .critical
        let server = RPCServer(configuration: configuration, group: loops, logger: logger)
        let raw = try await RawConnection.connect(to: try await server.start(), group: loops)
        try await raw.send(Frames.hello())
        _ = await raw.next()
        // Twenty calls whose 1 µs is gone by the time their frame is parsed, one with 10 s left.
        var batch = ByteBuffer()
        let echo = RPCV1.DiagnosticsService.Method.echo.path
        for id in 1...21 as ClosedRange<UInt32> {
            batch.writeFrame(Frames.call(id, path: echo, RPCV1.EchoRequest(payload: [1]), timeoutMicros: id == 21 ? 10_000_000 : 1))
        }
        try await raw.send(Array(batch.readableBytesView))
        var codes: [UInt32: RPCCode] = [:]
        while codes.count < 21, case .frame(let frame)? = await raw.next() {
            codes[frame.callID] = try Frames.decode(RPCV1.Reply.self, frame).status?.code
        }
        #expect((1...20 as ClosedRange<UInt32>).allSatisfy { codes[$0] == .deadlineExceeded }, "\(codes)")
        #expect(codes[21] == .ok)
        #expect((immediateHandler ? immediate.ranInTask.count : slow.startedCalls) == 1, "only the call with time left ran")
        await raw.close()
        await server.close()
        try await loops.shutdownGracefully()
    }

    /// A context made with an instant hands the same instant back, before or after the clock's origin.
    @Test func aContextKeepsTheDeadlineItWasGiven() {
        for deadline in [ContinuousClock.now + .seconds(5), CallClock.origin - .seconds(3), CallClock.origin] {
            let context = ServerCallContext(
                path: "/t", service: "t", method: "t", callID: 1, metadata: Metadata(), deadline: deadline, peer: "test", logger: Logger(label: "test")
            )
            #expect(context.deadline == deadline)
        }
        let none = ServerCallContext(path: "/t", service: "t", method: "t", callID: 1, metadata: Metadata(), deadline: nil, peer: "test", logger: Logger(label: "test"))
        #expect(none.deadline == nil)
    }

    @Test func dueCallsAndTheNextDeadline() {
        let now = NIODeadline.uptimeNanoseconds(1_000_000)
        let calls: [(key: UInt32, value: NIODeadline?)] = [
            (7, now + .milliseconds(5)), (3, now), (9, nil), (4, now - .milliseconds(1)), (8, now + .milliseconds(2)),
        ]
        let (expired, next) = CallDeadlineTimer.due(calls, now: now)
        #expect(expired == [3, 4])
        #expect(next == now + .milliseconds(2))
        #expect(CallDeadlineTimer.due([(key: UInt32, value: NIODeadline?)](), now: now).next == nil)
    }
}
