import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import NIOCore
import Testing

@Suite("Server and client over TCP")
struct ServerTests {
    @Test func healthListingAndDescribe() async throws {
        let server = try await TestServer.start()
        let client = server.client()
        let health = RPCV1.HealthService.Client(client)
        #expect(try await health.check(RPCV1.CheckRequest()).status == .serving)
        #expect(try await health.check(RPCV1.CheckRequest(service: "karokar.rpc.v1.DiagnosticsService")).status == .serving)
        #expect(try await health.check(RPCV1.CheckRequest(service: "no.such.Service")).status == .serviceUnknown)

        let reflection = RPCV1.ReflectionService.Client(client)
        let listing = try await reflection.listServices(RPCV1.ListServicesRequest())
        let names = listing.services.map(\.name)
        #expect(names.contains("karokar.rpc.v1.HealthService") && names.contains("karokar.rpc.v1.ReflectionService"))
        let check = listing.services.first { $0.name == "karokar.rpc.v1.HealthService" }?.methods.first
        #expect(check?.path == "/karokar.rpc.v1.HealthService/Check")
        #expect(check?.requestType == "karokar.rpc.v1.CheckRequest")
        #expect(check?.public == true)

        let period = try await reflection.describeType(RPCV1.DescribeTypeRequest(name: "karokar.common.v1.Period"))
        guard case .message(let info)? = period.type else {
            Issue.record("expected a message description")
            return
        }
        #expect(info.fields.map(\.name) == ["start", "end"])
        await #expect(throws: RPCError.self) {
            try await reflection.describeType(RPCV1.DescribeTypeRequest(name: "nope.Nope"))
        }
        await client.close()
        await server.stop()
    }

    @Test("many calls in flight on one connection, answered out of order")
    func multiplexing() async throws {
        let service = SlowEchoService()
        let (server, address) = try await service.startServer(limits: ServerLimits())
        let client = RPCClient(configuration: .init(host: "127.0.0.1", port: address.port!), group: TestServer.group)
        let echo = RPCV1.DiagnosticsService.Client(client)
        let results = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for index in 0..<64 {
                group.addTask {
                    let request = index % 2 == 0 ? RPCV1.EchoRequest.sleep(40) : RPCV1.EchoRequest(payload: [UInt8(index)])
                    return (index, try await echo.echo(request).payload)
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(results.count == 64)
        #expect(results[3] == [3])
        #expect(results[2] == Array("sleep:40".utf8))
        await client.close()
        await server.close()
    }

    @Test("a deadline cancels the handler's task and answers DEADLINE_EXCEEDED")
    func deadline() async throws {
        let service = SlowEchoService()
        let (server, address) = try await service.startServer(limits: ServerLimits())
        let client = RPCClient(configuration: .init(host: "127.0.0.1", port: address.port!), group: TestServer.group)
        let echo = RPCV1.DiagnosticsService.Client(client)
        /// Sends a slow echo under `timeout`: it must fail DEADLINE_EXCEEDED, sooner than `within`.
        func expectDeadline(sleep milliseconds: Int, timeout: Duration, within: Duration) async {
            let started = ContinuousClock.now
            do {
                _ = try await echo.echo(.sleep(milliseconds), options: CallOptions(timeout: timeout))
                Issue.record("expected DEADLINE_EXCEEDED")
            } catch let error as RPCError {
                #expect(error.code == .deadlineExceeded)
            } catch {
                Issue.record("expected an RPCError, got \(error)")
            }
            #expect(ContinuousClock.now - started < within)
        }
        await expectDeadline(sleep: 5_000, timeout: .milliseconds(100), within: .seconds(2))
        try await eventually { service.cancelledCalls == 1 }
        // An already-expired deadline (1 µs) never reaches a slow handler's end. Who notices
        // first depends on the scheduling: the client before sending ("deadline exceeded before
        // the call could be sent") or the server on arrival ("deadline exceeded"); the code is
        // the same either way (the exact message made this test fail on a loaded machine).
        await expectDeadline(sleep: 1_000, timeout: .microseconds(1), within: .milliseconds(900))
        #expect(try await echo.echo(RPCV1.EchoRequest(payload: [1])).payload == [1])
        await client.close()
        await server.close()
    }

    @Test("cancelling the caller's task sends CANCEL; the handler's task is cancelled")
    func cancellation() async throws {
        let service = SlowEchoService()
        let (server, address) = try await service.startServer(limits: ServerLimits())
        let client = RPCClient(configuration: .init(host: "127.0.0.1", port: address.port!), group: TestServer.group)
        let echo = RPCV1.DiagnosticsService.Client(client)
        let task = Task { try await echo.echo(.sleep(5_000)) }
        try await eventually { service.startedCalls == 1 }  // a fixed sleep loses the race on a busy machine
        task.cancel()
        await #expect(throws: RPCError(.cancelled, "the call was cancelled")) { try await task.value }
        try await eventually { service.cancelledCalls == 1 }
        await client.close()
        await server.close()
    }

    @Test("calls the server never started are retried: over the in-flight cap")
    func retriesNotStartedCalls() async throws {
        var limits = ServerLimits()
        limits.maximumCallsInFlight = 2
        let service = SlowEchoService()
        let (server, address) = try await service.startServer(limits: limits)
        var configuration = RPCClient.Configuration(host: "127.0.0.1", port: address.port!)
        configuration.maximumRetries = 50
        let client = RPCClient(configuration: configuration, group: TestServer.group)
        let echo = RPCV1.DiagnosticsService.Client(client)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<6 { group.addTask { _ = try await echo.echo(.sleep(20)) } }
            try await group.waitForAll()
        }
        #expect(service.completedCalls == 6)
        await client.close()
        await server.close()
    }

    @Test("typed errors carry status, domain code and field violations")
    func typedErrors() async throws {
        let server = try await TestServer.start()
        let client = server.client()
        do {
            _ = try await client.call(path: "/karokar.rpc.v1.Nope/Missing", payload: [], options: CallOptions())
            Issue.record("expected UNIMPLEMENTED")
        } catch let error as RPCError {
            #expect(error.code == .unimplemented)
            #expect(error.domainCode == TransportDomainCode.unknownMethod)
        }
        await client.close()
        await server.stop()
    }
}

/// Polls `condition` for up to ten seconds (generous: CI machines are small and busy).
func eventually(_ condition: @Sendable () async -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while !(await condition()) {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition not met within 10 s")
            return
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}
