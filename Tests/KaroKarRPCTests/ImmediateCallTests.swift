import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import KaroKarRPCServer
import KaroKarServices
import KaroKarTestSupport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// Immediate handlers (`RPCRoute(_:immediateHandler:)`): answered on the connection's event loop
/// with no task when every interceptor admits the call on the spot; in a task, through the
/// interceptors' `intercept`, when one cannot. Either way the answer is the same.
@Suite("Immediate calls")
struct ImmediateCallTests {
    /// Echo as an immediate handler that records whether it ran inside a task; `missing` throws
    /// NOT_FOUND, `crash` a non-RPC error.
    final class ImmediateEcho: Sendable {
        private let runs = NIOLockedValueBox<[Bool]>([])

        /// For each call, in order: whether its handler ran inside a task.
        var ranInTask: [Bool] { runs.withLockedValue { $0 } }

        var definition: RPCServiceDefinition {
            RPCServiceDefinition(descriptor: RPCV1.DiagnosticsService.descriptor, routes: [
                RPCRoute(RPCV1.DiagnosticsService.Method.echo, immediateHandler: echo)
            ])
        }

        func echo(_ request: RPCV1.EchoRequest, context: ServerCallContext) throws -> RPCV1.EchoResponse {
            let inTask = withUnsafeCurrentTask { $0 != nil }
            runs.withLockedValue { $0.append(inTask) }
            let text = String(decoding: request.payload, as: UTF8.self)
            if text == "crash" { throw CrashError() }
            if text == "missing" { throw RPCError(.notFound, "asked to fail", domainCode: "ASKED") }
            let tag = context.attributes[TagKey.self].map { Array("[\($0)]".utf8) } ?? []
            return RPCV1.EchoResponse(payload: tag + request.payload)
        }
    }

    struct CrashError: Error {}

    enum TagKey: CallAttributeKey {
        typealias Value = String
    }

    /// Health checks that suspend: an ordinary async handler beside the immediate one.
    struct SleepyHealth: RPCV1.HealthService.Handler {
        func check(_ request: RPCV1.CheckRequest, context: ServerCallContext) async throws -> RPCV1.CheckResponse {
            try await Task.sleep(for: .milliseconds(1))
            return RPCV1.CheckResponse(status: .serving)
        }
    }

    /// Tags calls with `x-tag`; refuses `x-deny`; defers (cannot decide on the spot) with `x-slow`.
    /// Counts which of its two entry points decided.
    final class Tagger: ServerInterceptor {
        let immediate = NIOLockedValueBox(0)
        let full = NIOLockedValueBox(0)
        let preparedPaths = NIOLockedValueBox<[String]>([])

        final class Prepared: Sendable {
            let path: String
            init(path: String) { self.path = path }
        }

        func prepare(forPath path: String, access: MethodAccess) -> (any AnyObject & Sendable)? {
            preparedPaths.withLockedValue { $0.append(path) }
            return Prepared(path: path)
        }

        func admitNow(context: inout ServerCallContext) throws(RPCError) -> Bool {
            guard context.metadata["x-slow"] == nil else { return false }
            try decide(&context)
            immediate.withLockedValue { $0 += 1 }
            return true
        }

        func intercept(context: ServerCallContext, next: (ServerCallContext) async throws -> ByteBuffer) async throws -> ByteBuffer {
            var context = context
            try decide(&context)
            full.withLockedValue { $0 += 1 }
            return try await next(context)
        }

        private func decide(_ context: inout ServerCallContext) throws(RPCError) {
            guard context.metadata["x-deny"] == nil else { throw RPCError(.permissionDenied, "denied", domainCode: "DENIED") }
            guard context.methodInfo.prepared(by: Tagger.self, as: Prepared.self)?.path == context.path else {
                throw RPCError(.internal, "no preparation for \(context.path)")
            }
            if let tag = context.metadata["x-tag"] { context.attributes[TagKey.self] = tag }
        }
    }

    /// An interceptor written before immediate handlers existed: it only has `intercept`.
    struct Counter: ServerInterceptor {
        let calls = NIOLockedValueBox(0)

        func intercept(context: ServerCallContext, next: (ServerCallContext) async throws -> ByteBuffer) async throws -> ByteBuffer {
            calls.withLockedValue { $0 += 1 }
            return try await next(context)
        }
    }

    func withServer(
        _ echo: ImmediateEcho, interceptors: [any ServerInterceptor],
        _ body: (RPCV1.DiagnosticsService.Client, RPCV1.HealthService.Client) async throws -> Void
    ) async throws {
        var configuration = RPCServer.Configuration()
        configuration.port = 0
        configuration.services = [echo.definition, SleepyHealth().serviceDefinition()]
        configuration.interceptors = interceptors
        var logger = Logger(label: "immediate-test")
        logger.logLevel = .critical
        // A loop of its own: immediate handlers run on the server's event loop, and on the loops
        // every suite shares they would hold up other suites' timing-sensitive connections.
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = RPCServer(configuration: configuration, group: loops, logger: logger)
        let address = try await server.start()
        let client = RPCClient(configuration: .init(host: "127.0.0.1", port: address.port!), group: loops)
        do {
            try await body(RPCV1.DiagnosticsService.Client(client), RPCV1.HealthService.Client(client))
        } catch {
            await client.close()
            await server.close()
            try await loops.shutdownGracefully()
            throw error
        }
        await client.close()
        await server.close()
        try await loops.shutdownGracefully()
    }

    static func payload(_ text: String) -> RPCV1.EchoRequest {
        RPCV1.EchoRequest(payload: Array(text.utf8))
    }

    @Test func aCallAdmittedOnTheSpotRunsWithoutATask() async throws {
        let echo = ImmediateEcho()
        let tagger = Tagger()
        try await withServer(echo, interceptors: [tagger]) { client, _ async throws in
            let tagged = CallOptions(metadata: Metadata([("x-tag", "t1")]))
            #expect(try await client.echo(Self.payload("hi"), options: tagged).payload == Array("[t1]hi".utf8))
            #expect(try await client.echo(Self.payload("plain")).payload == Array("plain".utf8))
        }
        #expect(echo.ranInTask == [false, false])
        #expect(tagger.immediate.withLockedValue { $0 } == 2)
        #expect(tagger.full.withLockedValue { $0 } == 0)
        #expect(tagger.preparedPaths.withLockedValue { $0 }.sorted() == [
            RPCV1.DiagnosticsService.Method.echo.path, RPCV1.HealthService.Method.check.path,
        ])
    }

    @Test func aCallAnInterceptorCannotDecideOnTheSpotRunsInATaskWithTheSameOutcome() async throws {
        let echo = ImmediateEcho()
        let tagger = Tagger()
        try await withServer(echo, interceptors: [tagger]) { client, _ async throws in
            let slow = CallOptions(metadata: Metadata([("x-tag", "t2"), ("x-slow", "1")]))
            #expect(try await client.echo(Self.payload("hi"), options: slow).payload == Array("[t2]hi".utf8))
            let slowDenied = CallOptions(metadata: Metadata([("x-slow", "1"), ("x-deny", "1")]))
            await expectCode(.permissionDenied, domainCode: "DENIED") { _ = try await client.echo(Self.payload("x"), options: slowDenied) }
        }
        #expect(echo.ranInTask == [true], "the refused call never reached the handler")
        #expect(tagger.full.withLockedValue { $0 } == 1)
        #expect(tagger.immediate.withLockedValue { $0 } == 0)
    }

    /// Task replies come back through the mailbox and are copied into the outgoing buffer, or,
    /// from 16 KiB, written as they are after what the buffer holds: concurrent small and large
    /// ones on one connection each get their own answer.
    @Test func anInterceptorWithoutAnImmediateDecisionSendsEveryCallThroughATask() async throws {
        let echo = ImmediateEcho()
        let counter = Counter()
        try await withServer(echo, interceptors: [counter]) { client, _ async throws in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<10 {
                    group.addTask { () async throws in
                        let size = index % 5 == 0 ? 20_000 + index : 5 + index
                        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) }
                        let same = try await client.echo(RPCV1.EchoRequest(payload: bytes)).payload == bytes
                        #expect(same, "call \(index), \(size) bytes")
                    }
                }
                try await group.waitForAll()
            }
        }
        #expect(echo.ranInTask.count == 10 && echo.ranInTask.allSatisfy { $0 })
        #expect(counter.calls.withLockedValue { $0 } == 10)
    }

    @Test func refusalsAndHandlerErrorsAnswerWithTheirStatusAndLeaveTheConnectionUsable() async throws {
        let echo = ImmediateEcho()
        try await withServer(echo, interceptors: [Tagger()]) { client, _ async throws in
            let denied = CallOptions(metadata: Metadata([("x-deny", "1")]))
            await expectCode(.permissionDenied, domainCode: "DENIED") { _ = try await client.echo(Self.payload("x"), options: denied) }
            await expectCode(.notFound, domainCode: "ASKED") { _ = try await client.echo(Self.payload("missing")) }
            await expectCode(.internal) { _ = try await client.echo(Self.payload("crash")) }
            #expect(try await client.echo(Self.payload("still here")).payload == Array("still here".utf8))
        }
        #expect(echo.ranInTask.allSatisfy { !$0 })
    }

    /// Immediate replies go into the connection's outgoing buffer while task replies come back
    /// through the mailbox: on one connection, with both kinds in flight and some replies far
    /// larger than the buffer's usual size, every call gets its own answer.
    @Test func immediateAndTaskRepliesInterleaveOnOneConnection() async throws {
        let echo = ImmediateEcho()
        try await withServer(echo, interceptors: []) { client, health async throws in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<60 {
                    group.addTask { () async throws in
                        if index % 3 == 0 {
                            #expect(try await health.check(RPCV1.CheckRequest()).status == .serving)
                        } else {
                            // Past ServerConnectionHandler.directWriteBytes (16 KiB) now and then.
                            let size = index % 20 == 1 ? 17_000 + index : 10 + index
                            let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
                            let same = try await client.echo(RPCV1.EchoRequest(payload: bytes)).payload == bytes
                            #expect(same, "call \(index), \(size) bytes")  // (not the arrays: describing them is slow)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        #expect(echo.ranInTask.count == 40)
        #expect(echo.ranInTask.allSatisfy { !$0 })
    }
}
