import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import NIOCore
import Testing

/// ARCHITECTURE.md item 4: hostile input is normal input. Each case gets its documented answer or a
/// clean close, and the server keeps serving everybody else.
@Suite("Hostile input")
struct HostileInputTests {
    static let checkPath = RPCV1.HealthService.Method.check.path

    /// Starts the real server with short timeouts and returns it with an open, handshaken connection.
    /// Timeouts stay at their defaults unless a test is about them: a loaded 2-core CI machine
    /// running every suite at once can take a few hundred milliseconds to complete a handshake.
    private func serverAndConnection(
        _ configure: (inout ServerSettings) -> Void = { _ in }
    ) async throws -> (TestServer, RawConnection) {
        let server = try await TestServer.start { settings in
            configure(&settings)
        }
        let raw = try await server.raw()
        try await raw.send(Frames.hello())
        guard case .frame(let ack)? = await raw.next(), ack.type == .helloAck else {
            throw RPCError(.internal, "no HELLO_ACK")
        }
        return (server, raw)
    }

    /// The server still answers a well-behaved client.
    private func expectStillServing(_ server: TestServer) async throws {
        let client = server.client()
        #expect(try await RPCV1.HealthService.Client(client).check(RPCV1.CheckRequest()).status == .serving)
        await client.close()
    }

    /// The connection gets a DRAIN with `code`, then closes.
    private func expectDrainAndClose(_ raw: RawConnection, code: RPCCode) async throws {
        let (frames, closed) = await raw.drainUntilClosed()
        #expect(closed, "connection must close")
        let drain = try #require(frames.last { $0.type == .drain })
        #expect(try Frames.decode(RPCV1.Drain.self, drain).status?.code == code)
    }

    private func reply(_ raw: RawConnection) async throws -> (UInt32, RPCV1.Reply) {
        guard case .frame(let frame)? = await raw.next(), frame.type == .reply else {
            throw RPCError(.internal, "expected a REPLY")
        }
        return (frame.callID, try Frames.decode(RPCV1.Reply.self, frame))
    }

    @Test("length 0: protocol error, DRAIN, close")
    func zeroLength() async throws {
        let (server, raw) = try await serverAndConnection()
        try await raw.send([0, 0, 0, 0])
        try await expectDrainAndClose(raw, code: .invalidArgument)
        try await expectStillServing(server)
        await server.stop()
    }

    @Test("a length over the maximum is refused before the body arrives")
    func oversizedLength() async throws {
        let (server, raw) = try await serverAndConnection()
        try await raw.send([0xFF, 0xFF, 0xFF, 0xFF])  // 4 GiB announced, nothing else sent
        try await expectDrainAndClose(raw, code: .resourceExhausted)
        try await expectStillServing(server)
        await server.stop()
    }

    @Test("a truncated frame then close does not disturb the server")
    func truncatedThenClose() async throws {
        let (server, raw) = try await serverAndConnection()
        try await raw.send([0, 0, 0, 100, 0x10, 0, 0, 0, 0, 0, 0, 1, 0x0A])
        await raw.close()
        try await expectStillServing(server)
        await server.stop()
    }

    @Test("random bytes instead of a handshake close the connection", arguments: [1, 2, 3])
    func randomBytes(seed: UInt64) async throws {
        let server = try await TestServer.start()
        let raw = try await server.raw()
        var generator = SeededGenerator(seed: seed)
        try await raw.send((0..<512).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let (_, closed) = await raw.drainUntilClosed()
        #expect(closed)
        try await expectStillServing(server)
        await server.stop()
    }

    @Test("an undecodable CALL body or request payload gets INVALID_ARGUMENT, connection stays")
    func undecodablePayloads() async throws {
        let (server, raw) = try await serverAndConnection()
        try await raw.send(Frame(type: .call, callID: 1, body: ByteBuffer(bytes: [0x0A, 0x7F, 0x01])))
        let (id1, reply1) = try await reply(raw)
        #expect(id1 == 1 && reply1.status?.code == .invalidArgument)
        #expect(reply1.status?.details?.domainCode == TransportDomainCode.malformedPayload)
        let garbage = RPCV1.Call(method: Self.checkPath, payload: [0x0A, 0x05, 0x41])
        try await raw.send(Frames.make(.call, callID: 2, garbage))
        let (id2, reply2) = try await reply(raw)
        #expect(id2 == 2 && reply2.status?.code == .invalidArgument)
        try await raw.send(Frames.call(3, path: Self.checkPath, RPCV1.CheckRequest()))
        #expect(try await reply(raw).1.status?.code == .ok)
        await server.stop()
    }

    @Test func unknownMethod() async throws {
        let (server, raw) = try await serverAndConnection()
        try await raw.send(Frames.call(1, path: "/karokar.nope.v1.NoService/Nothing", RPCV1.CheckRequest()))
        let (_, reply) = try await reply(raw)
        #expect(reply.status?.code == .unimplemented)
        #expect(reply.status?.details?.domainCode == TransportDomainCode.unknownMethod)
        await server.stop()
    }

    @Test("metadata over its cap, too many entries, or bad keys get a REPLY error")
    func metadataLimits() async throws {
        let (server, raw) = try await serverAndConnection()
        let big = [RPCV1.MetadataEntry(key: "x-big", value: Array(repeating: 65, count: 9_000))]
        try await raw.send(Frames.call(1, path: Self.checkPath, RPCV1.CheckRequest(), metadata: big))
        #expect(try await reply(raw).1.status?.details?.domainCode == TransportDomainCode.metadataTooLarge)
        let many = (0..<100).map { RPCV1.MetadataEntry(key: "k\($0)", value: []) }
        try await raw.send(Frames.call(2, path: Self.checkPath, RPCV1.CheckRequest(), metadata: many))
        #expect(try await reply(raw).1.status?.code == .resourceExhausted)
        let bad = [RPCV1.MetadataEntry(key: "Bad Key", value: [1])]
        try await raw.send(Frames.call(3, path: Self.checkPath, RPCV1.CheckRequest(), metadata: bad))
        #expect(try await reply(raw).1.status?.details?.domainCode == TransportDomainCode.malformedMetadata)
        try await expectStillServing(server)
        await server.stop()
    }

    @Test("a request over the method's cap gets RESOURCE_EXHAUSTED")
    func requestTooLarge() async throws {
        let (server, raw) = try await serverAndConnection { $0.limits.maximumRequestBytes = 1_000 }
        let echo = RPCV1.EchoRequest(payload: Array(repeating: 7, count: 2_000))
        try await raw.send(Frames.call(1, path: RPCV1.DiagnosticsService.Method.echo.path, echo))
        #expect(try await reply(raw).1.status?.details?.domainCode == TransportDomainCode.requestTooLarge)
        await server.stop()
    }

    @Test("too many calls in flight: the extra ones get RESOURCE_EXHAUSTED, the rest complete")
    func tooManyCallsInFlight() async throws {
        let service = SlowEchoService()
        var limits = ServerLimits()
        limits.maximumCallsInFlight = 3
        let (server, address) = try await service.startServer(limits: limits)
        let raw = try await RawConnection.connect(to: address, group: TestServer.group)
        try await raw.send(Frames.hello())
        _ = await raw.next()
        // In one write: sent one by one, the calls could arrive more than 200 ms apart on a busy
        // machine, after the first ones had finished.
        var calls = ByteBuffer()
        for id in 1...5 as ClosedRange<UInt32> {
            calls.writeFrame(Frames.call(id, path: RPCV1.DiagnosticsService.Method.echo.path, RPCV1.EchoRequest.sleep(200)))
        }
        try await raw.send(Array(calls.readableBytesView))
        var codes: [UInt32: RPCCode] = [:]
        for _ in 1...5 {
            let (id, reply) = try await reply(raw)
            codes[id] = reply.status?.code
        }
        #expect(codes.values.filter { $0 == .resourceExhausted }.count == 2)
        #expect(codes.values.filter { $0 == .ok }.count == 3)
        await server.close()
    }

    @Test("a client that never completes the handshake is closed after the handshake timeout")
    func noHandshake() async throws {
        let server = try await TestServer.start { $0.limits.handshakeTimeout = .milliseconds(500) }
        let raw = try await server.raw()
        try await expectDrainAndClose(raw, code: .deadlineExceeded)
        try await expectStillServing(server)
        await server.stop()
    }

    @Test("a client that trickles a frame byte by byte is closed after the frame timeout")
    func trickle() async throws {
        let (server, raw) = try await serverAndConnection { $0.limits.frameTimeout = .milliseconds(500) }
        let frame = Frames.call(1, path: Self.checkPath, RPCV1.CheckRequest())
        var buffer = ByteBuffer()
        buffer.writeFrame(frame)
        let trickler = Task {
            for byte in buffer.readableBytesView {
                try await raw.send([byte])
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        try await expectDrainAndClose(raw, code: .deadlineExceeded)
        trickler.cancel()
        try await expectStillServing(server)
        await server.stop()
    }

    @Test("a huge timeout (UInt64.max µs) is capped, not an overflow")
    func hugeTimeout() async throws {
        let (server, raw) = try await serverAndConnection()
        try await raw.send(Frames.call(1, path: Self.checkPath, RPCV1.CheckRequest(), timeoutMicros: .max))
        #expect(try await reply(raw).1.status?.code == .ok)
        try await expectStillServing(server)
        await server.stop()
    }

    @Test("a client streaming complete frames back to back is not taken for a slow one")
    func steadyStreamIsNotSlowDrip() async throws {
        let (server, raw) = try await serverAndConnection { $0.limits.frameTimeout = .milliseconds(500) }
        var stream = ByteBuffer()
        stream.writeFrame(Frames.make(.ping, RPCV1.Ping(opaque: 1)))
        stream.writeFrame(Frames.make(.ping, RPCV1.Ping(opaque: 2)))
        let bytes = Array(stream.readableBytesView)
        // Every write ends inside a frame, so the buffer is never empty between reads; each frame
        // still completes well within the timeout. 1.2 s in all, beyond the 500 ms frame timeout.
        let split = bytes.count / 2 + 3
        for _ in 0..<12 {
            try await raw.send(Array(bytes[..<split]))
            try await Task.sleep(for: .milliseconds(100))
            try await raw.send(Array(bytes[split...]))
        }
        var pongs = 0
        while case .frame(let frame)? = await raw.next(timeout: .milliseconds(300)) {
            if frame.type == .pong { pongs += 1 }
        }
        #expect(pongs == 24)
        #expect(raw.isActive)
        await server.stop()
    }

    @Test("a flood of connections beyond the cap is closed at accept; the server recovers")
    func connectionFlood() async throws {
        let server = try await TestServer.start { $0.limits.maximumConnections = 20 }
        var flood: [RawConnection] = []
        for _ in 0..<60 {
            flood.append(try await server.raw())
        }
        try await eventually { server.application.server.connectionCount <= 20 }
        // The clients learn of the closes on their own loop, later on a busy machine.
        let connections = flood
        try await eventually { connections.filter { !$0.isActive }.count >= 35 }
        #expect(connections.filter { !$0.isActive }.count >= 35)
        for connection in flood { await connection.close() }
        try await eventually { server.application.server.connectionCount == 0 }
        try await expectStillServing(server)
        await server.stop()
    }

    @Test("CANCEL for an unknown call is ignored; PING still answered")
    func cancelUnknownCall() async throws {
        let (server, raw) = try await serverAndConnection()
        try await raw.send(Frame(type: .cancel, callID: 999, body: ByteBuffer()))
        try await raw.send(Frames.make(.ping, RPCV1.Ping(opaque: 42)))
        guard case .frame(let pong)? = await raw.next() else {
            Issue.record("no PONG")
            return
        }
        #expect(pong.type == .pong)
        #expect(try Frames.decode(RPCV1.Ping.self, pong).opaque == 42)
        await server.stop()
    }

    @Test("protocol violations close the connection with a DRAIN")
    func protocolViolations() async throws {
        let server = try await TestServer.start()
        // First frame not HELLO.
        let first = try await server.raw()
        try await first.send(Frames.call(1, path: Self.checkPath, RPCV1.CheckRequest()))
        try await expectDrainAndClose(first, code: .invalidArgument)
        // Unsupported version.
        let version = try await server.raw()
        try await version.send(Frames.hello(version: 9))
        try await expectDrainAndClose(version, code: .failedPrecondition)
        // Call ids must increase.
        let (_, ids) = try await serverAndConnectionOn(server)
        try await ids.send(Frames.call(5, path: Self.checkPath, RPCV1.CheckRequest()))
        try await ids.send(Frames.call(5, path: Self.checkPath, RPCV1.CheckRequest()))
        try await expectDrainAndClose(ids, code: .invalidArgument)
        // Unknown non-extension frame type; extension types (>= 0x80) are skipped.
        let (_, types) = try await serverAndConnectionOn(server)
        try await types.send(Frame(typeByte: 0x99, flags: 0, callID: 0, body: ByteBuffer(bytes: [1, 2])))
        try await types.send(Frame(typeByte: 0x42, flags: 0, callID: 0, body: ByteBuffer()))
        try await expectDrainAndClose(types, code: .invalidArgument)
        try await expectStillServing(server)
        await server.stop()
    }

    private func serverAndConnectionOn(_ server: TestServer) async throws -> (TestServer, RawConnection) {
        let raw = try await server.raw()
        try await raw.send(Frames.hello())
        _ = await raw.next()
        return (server, raw)
    }
}
