import KaroKarMessages
import KaroKarRPC
import KaroKarRPCServer
import KaroKarServices
import KaroKarTestSupport
import NIOCore
import Testing

/// The client retries by itself exactly the calls the server provably did not start (PROTOCOL.md,
/// section 14), on a new connection to the same address, which may reach another server: against
/// real servers that drain, close, refuse and come back on the same port.
@Suite("Client retry of unstarted calls")
struct ClientRetryTests {
    private func client(port: Int, retries: Int = 200) -> RPCClient {
        var configuration = RPCClient.Configuration(host: "127.0.0.1", port: port)
        configuration.maximumRetries = retries
        configuration.retryBackoff = .milliseconds(5)
        configuration.retryBackoffLimit = .milliseconds(50)
        return RPCClient(configuration: configuration, group: TestServer.group)
    }

    /// Starts `service` on `port`, retrying while the previous server's listener still holds it.
    private func start(_ service: SlowEchoService, port: Int, limits: ServerLimits = ServerLimits()) async throws -> RPCServer {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                return try await service.startServer(limits: limits, port: port).0
            } catch {
                guard ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
    }

    /// `service` on a port below the ephemeral range (32768 and up on Linux): a port the kernel
    /// handed out may, once its listener closes, become another process's outgoing connection's
    /// local port and keep the next server from binding it.
    private func startOnFixedPort(_ service: SlowEchoService, limits: ServerLimits) async throws -> (RPCServer, Int) {
        for _ in 0..<100 {
            let port = Int.random(in: 20_000..<32_000)
            if let server = try? await service.startServer(limits: limits, port: port).0 { return (server, port) }
        }
        throw RPCError(.unavailable, "no free port below the ephemeral range")
    }

    /// True once nothing accepts connections on `port`.
    private func refused(_ port: Int) async -> Bool {
        guard let address = try? SocketAddress(ipAddress: "127.0.0.1", port: port) else { return false }
        guard let raw = try? await RawConnection.connect(to: address, group: TestServer.group) else { return true }
        await raw.close()
        return false
    }

    @Test("a draining server's refused and unstarted calls run once, on the next server on the same address")
    func drainThenAnotherServer() async throws {
        let first = SlowEchoService()
        var limits = ServerLimits()
        limits.drainTimeout = .seconds(10)
        let (server, port) = try await startOnFixedPort(first, limits: limits)
        let client = client(port: port)
        let echo = RPCV1.DiagnosticsService.Client(client)
        _ = try await echo.echo(RPCV1.EchoRequest(payload: [0]))
        let inFlight = Task { try await echo.echo(.sleep(1_000)) }
        try await eventually { first.startedCalls == 2 }
        let draining = Task { await server.drain() }
        try await eventually { await refused(port) }  // the listener is closed: the drain has begun
        let calls = (1...8).map { index in
            Task { try await echo.echo(RPCV1.EchoRequest(payload: [UInt8(index)]), options: CallOptions(timeout: .seconds(20))) }
        }
        try await Task.sleep(for: .milliseconds(200))  // the calls meet DRAIN, DRAINING and refused connections
        let second = SlowEchoService()
        let next = try await start(second, port: port)
        for (index, call) in calls.enumerated() {
            #expect(try await call.value.payload == [UInt8(index + 1)])
        }
        #expect(try await inFlight.value.payload == Array("sleep:1000".utf8), "the call in flight at the DRAIN finishes")
        await draining.value
        #expect(first.completedCalls == 2, "the draining server ran nothing after the DRAIN")
        #expect(second.startedCalls == 8, "each refused call ran exactly once, on the next server")
        #expect(client.retries >= 8)
        await client.close()
        await next.close()
    }

    @Test("a call lost after it was written is not retried; with an idempotency key and the opt-in it is")
    func startedCallsAreNotRetried() async throws {
        for optIn in [false, true] {
            let first = SlowEchoService()
            var limits = ServerLimits()
            limits.drainTimeout = .milliseconds(300)  // then the connection closes under the running call
            let (server, port) = try await startOnFixedPort(first, limits: limits)
            let client = client(port: port)
            let echo = RPCV1.DiagnosticsService.Client(client)
            var options = CallOptions(timeout: .seconds(20), metadata: Metadata([(Metadata.Key.idempotencyKey, "retry-test-\(optIn)")]))
            options.retryWithIdempotencyKey = optIn
            let call = Task { [options] in try await echo.echo(.sleep(1_500), options: options) }
            try await eventually { first.startedCalls == 1 }
            let draining = Task { await server.drain() }
            let second = SlowEchoService()
            let next = try await start(second, port: port)  // somewhere a retry could go
            await draining.value
            if optIn {
                #expect(try await call.value.payload == Array("sleep:1500".utf8))
                #expect(second.startedCalls == 1, "retried once, on the next server")
            } else {
                await #expect(throws: RPCError.self) { try await call.value }
                do {
                    _ = try await call.value
                } catch let error as RPCError {
                    #expect(error.code == .unavailable)
                }
                #expect(second.startedCalls == 0, "a call that may have run is not repeated")
                #expect(client.retries == 0)
            }
            await client.close()
            await next.close()
        }
    }

    @Test("the opt-in without an idempotency key retries nothing that may have started")
    func optInNeedsAKey() async throws {
        let first = SlowEchoService()
        var limits = ServerLimits()
        limits.drainTimeout = .milliseconds(300)
        let (server, port) = try await startOnFixedPort(first, limits: limits)
        let client = client(port: port)
        let call = Task {
            try await RPCV1.DiagnosticsService.Client(client).echo(.sleep(1_500), options: CallOptions(timeout: .seconds(20), retryWithIdempotencyKey: true))
        }
        try await eventually { first.startedCalls == 1 }
        let second = SlowEchoService()
        let draining = Task { await server.drain() }
        let next = try await start(second, port: port)
        await draining.value
        await #expect(throws: RPCError.self) { try await call.value }
        #expect(second.startedCalls == 0)
        await client.close()
        await next.close()
    }

    @Test("refused connections: retried until a server listens, within the attempts and the deadline")
    func refusedConnections() async throws {
        let probe = SlowEchoService()
        let (placeholder, port) = try await startOnFixedPort(probe, limits: ServerLimits())
        await placeholder.close()
        try await eventually { await refused(port) }

        // The deadline ends the retries, not much later than it passes.
        let patient = client(port: port, retries: 100_000)
        let started = ContinuousClock.now
        do {
            _ = try await RPCV1.DiagnosticsService.Client(patient).echo(RPCV1.EchoRequest(), options: CallOptions(timeout: .milliseconds(300)))
            Issue.record("nothing listens: the call must fail")
        } catch let error as RPCError {
            #expect(error.code == .deadlineExceeded)
        }
        #expect(ContinuousClock.now - started < .seconds(3))
        #expect(patient.retries > 0)
        await patient.close()

        // The attempts end them without a deadline.
        let bounded = client(port: port, retries: 2)
        await #expect(throws: RPCError.self) { _ = try await RPCV1.DiagnosticsService.Client(bounded).echo(RPCV1.EchoRequest()) }
        #expect(bounded.retries == 2)
        await bounded.close()

        // A server that comes up while the call retries gets it.
        let waiting = client(port: port)
        let call = Task { try await RPCV1.DiagnosticsService.Client(waiting).echo(RPCV1.EchoRequest(payload: [9]), options: CallOptions(timeout: .seconds(20))) }
        try await Task.sleep(for: .milliseconds(300))
        let service = SlowEchoService()
        let server = try await start(service, port: port)
        #expect(try await call.value.payload == [9])
        #expect(service.completedCalls == 1)
        await waiting.close()
        await server.close()
    }

    @Test("a connection closed before HELLO_ACK (the connection cap) fails its calls as not started: retried")
    func closedBeforeTheHandshake() async throws {
        var limits = ServerLimits()
        limits.maximumConnections = 1
        let service = SlowEchoService()
        let (server, address) = try await service.startServer(limits: limits)
        let holder = client(port: address.port!)
        _ = try await RPCV1.DiagnosticsService.Client(holder).echo(RPCV1.EchoRequest())  // takes the only connection
        let other = client(port: address.port!, retries: 100_000)  // bounded by the call's deadline
        let call = Task { try await RPCV1.DiagnosticsService.Client(other).echo(RPCV1.EchoRequest(payload: [5]), options: CallOptions(timeout: .seconds(20))) }
        try await eventually { other.retries >= 2 }  // closed at once, again and again
        await holder.close()
        #expect(try await call.value.payload == [5])
        #expect(service.completedCalls == 2)
        await other.close()
        await server.close()
    }
}
