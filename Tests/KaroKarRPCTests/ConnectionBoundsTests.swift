import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import KaroKarRPCServer
import KaroKarServices
import KaroKarTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// Issue 19, findings 2 and 3: what a connection holds in memory is bounded whatever its client
/// does: writes that never end on a frame boundary, or replies it never reads.
@Suite("Memory bounds per connection")
struct ConnectionBoundsTests {
    static let echo = RPCV1.DiagnosticsService.Method.echo.path
    /// These tests push tens of megabytes through their connections: on the loops the suites share
    /// they would hold up the timing tests of the others (deadlines, drain, slow peers).
    static let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// HELLO, then `count` Echo CALL frames of `payloadBytes` each, back to back, from call id 1.
    static func helloAndEchoCalls(_ count: Int, payloadBytes: Int) -> (stream: ByteBuffer, frameBytes: Int) {
        var stream = ByteBuffer()
        stream.writeFrame(Frames.hello())
        let start = stream.readableBytes
        let payload = [UInt8](repeating: 0x5A, count: payloadBytes)
        for index in 1...count {
            stream.writeFrame(Frames.call(UInt32(index), path: echo, RPCV1.EchoRequest(payload: payload)))
        }
        return (stream, (stream.readableBytes - start) / count)
    }

    /// The most a connection's read buffer may hold (README, "Performance"; PROTOCOL.md, appendix B):
    /// one maximum frame, and one read cycle (16 reads of at most 64 KiB) that arrived after the
    /// connection stopped reading, in a buffer whose capacity is a power of two.
    static func readBufferBound(maximumFrameBytes: Int) -> Int {
        var bound = 1
        while bound < maximumFrameBytes + FrameLayout.lengthFieldSize + 16 * 65_536 { bound *= 2 }
        return bound
    }

    /// The largest value `measure` gives over the server's connections, sampled every few
    /// milliseconds until the task is cancelled.
    static func peak(_ server: RPCServer, _ measure: @escaping @Sendable (ConnectionBuffers) -> Int) -> Task<Int, Never> {
        Task {
            var peak = 0
            while !Task.isCancelled {
                for connection in await server.connectionBuffers() { peak = max(peak, measure(connection)) }
                try? await Task.sleep(for: .milliseconds(2))
            }
            return peak
        }
    }

    @Test("writes of one and a half frames, 24 MB of them: the read buffer stays within about one maximum frame")
    func writesOffFrameBoundaries() async throws {
        let maximumFrameBytes = 256 * 1024
        let server = try await TestServer.start(group: Self.loops) { $0.limits.maximumFrameBytes = maximumFrameBytes }
        let client = try await StreamClient.connect(to: server.address, group: Self.loops)
        let calls = 480
        var (stream, frameBytes) = Self.helloAndEchoCalls(calls, payloadBytes: 50_000)
        let peak = Self.peak(server.application.server) { $0.readCapacity }
        // The first write is three quarters of a frame, every other one and a half: no write ends
        // on a frame boundary, so a buffer that keeps what it returned until it is empty keeps it all.
        var chunk = frameBytes * 3 / 4
        while stream.readableBytes > 0 {
            try await client.write(stream.readSlice(length: min(chunk, stream.readableBytes))!)
            chunk = frameBytes * 3 / 2
        }
        try await eventually { client.okReplies == calls }
        peak.cancel()
        let capacity = await peak.value
        #expect(capacity > 0, "the buffer was sampled")
        #expect(capacity <= Self.readBufferBound(maximumFrameBytes: maximumFrameBytes), "read buffer capacity \(capacity) bytes")
        await client.close()
        await server.stop()
    }

    @Test("a client that never reads: the server stops reading, holds at most the high-water mark and a frame, and closes it after the stall timeout")
    func clientThatNeverReads() async throws {
        let stallTimeout = Duration.seconds(1)
        let server = try await TestServer.start(group: Self.loops) { settings in
            settings.limits.maximumFrameBytes = 256 * 1024
            settings.limits.outboundStallTimeout = stallTimeout
        }
        let limits = server.application.server.configuration.limits
        let client = try await StreamClient.connect(to: server.address, group: Self.loops, reading: false, receiveBufferBytes: 16 * 1024)
        let (stream, frameBytes) = Self.helloAndEchoCalls(600, payloadBytes: 60_000)  // 36 MB of replies
        let outbound = Self.peak(server.application.server) { $0.outboundBytes }
        let unhandled = Self.peak(server.application.server) { $0.readCapacity }
        let writing = ContinuousClock.now
        client.writeWithoutWaiting(stream)
        let stopped = try await Self.whenStopped(server.application.server)
        try await eventually { server.application.server.connectionCount == 0 }
        let closed = ContinuousClock.now
        outbound.cancel()
        unhandled.cancel()
        let (outboundPeak, readPeak) = (await outbound.value, await unhandled.value)
        #expect(outboundPeak <= limits.outboundHighWaterBytes + frameBytes, "unsent reply bytes peaked at \(outboundPeak)")
        #expect(readPeak <= Self.readBufferBound(maximumFrameBytes: limits.maximumFrameBytes), "read buffer capacity peaked at \(readPeak)")
        // Not before the stall timeout has run from the first byte it could have stalled on, and
        // soon after it ran from when the test saw the connection stop.
        #expect(closed - writing >= stallTimeout, "closed \(closed - writing) after the client started writing")
        #expect(closed - stopped < stallTimeout + .seconds(3), "closed \(closed - stopped) after it stopped")
        await client.close()
        await server.stop()
    }

    @Test("a client that reads again after the server stopped reading gets every reply")
    func clientThatReadsLate() async throws {
        let server = try await TestServer.start(group: Self.loops) { $0.limits.maximumFrameBytes = 256 * 1024 }
        let client = try await StreamClient.connect(to: server.address, group: Self.loops, reading: false, receiveBufferBytes: 16 * 1024)
        let calls = 300
        client.writeWithoutWaiting(Self.helloAndEchoCalls(calls, payloadBytes: 60_000).stream)
        _ = try await Self.whenStopped(server.application.server)
        try await Task.sleep(for: .milliseconds(200))
        try await client.startReading()
        try await eventually { client.okReplies == calls }
        #expect(client.counts.frames == calls + 1, "HELLO_ACK and one REPLY per call, nothing else")
        #expect(client.isActive)
        await client.close()
        await server.stop()
    }

    /// When the server's only connection stopped reading (within 10 s).
    static func whenStopped(_ server: RPCServer) async throws -> ContinuousClock.Instant {
        try await eventually { await server.connectionBuffers().first?.stopped == true }
        return ContinuousClock.now
    }
}
