import BaselineSupport
import NIOCore
import NIOPosix

/// Closed-loop load over raw echo connections, driven on the event loop like karokar-bench.
struct RawEchoLoad {
    let options: LoadOptions

    func run() async throws -> BaselineReport {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let start = monotonicNanoseconds() + 2_000_000
        let measureFrom = start + UInt64(options.warmup * 1e9)
        let end = measureFrom + UInt64(options.duration * 1e9)
        var results: [EventLoopFuture<LatencyRecorder>] = []
        for index in 0..<options.connections {
            let limit = options.concurrency / options.connections + (index < options.concurrency % options.connections ? 1 : 0)
            let done = group.next().makePromise(of: LatencyRecorder.self)
            let handler: @Sendable () -> EchoLoadHandler = { EchoLoadHandler(limit: limit, payloadBytes: options.payloadBytes, measureFrom: measureFrom, end: end, done: done) }
            _ = try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler()) } }
                .connect(host: options.host, port: options.port).get()
            results.append(done.futureResult)
        }
        let now = monotonicNanoseconds()
        if measureFrom > now { try await Task.sleep(for: .nanoseconds(Int64(measureFrom - now))) }
        let before = CPUSample.now(serverPID: options.serverPid)
        var total = LatencyRecorder()
        for result in results { total.merge(try await result.get()) }
        let after = CPUSample.now(serverPID: options.serverPid)
        try await group.shutdownGracefully()
        return BaselineReport(call: "raw-echo", options: options, recorder: total, measureFrom: measureFrom, cpuBefore: before, cpuAfter: after)
    }
}

/// Keeps `limit` frames in flight; replies come back in order, so send times are a FIFO.
final class EchoLoadHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let limit: Int
    private let frame: ByteBuffer
    /// Frames sent since the last write, copied in one after the other as karokar-bench does;
    /// written once per read batch.
    private var outbound = ByteBuffer()
    private let measureFrom: UInt64
    private let end: UInt64
    private let done: EventLoopPromise<LatencyRecorder>
    private var sentAt: [UInt64] = []
    private var head = 0
    private var buffered: ByteBuffer?
    private var recorder = LatencyRecorder()
    private var finished = false

    init(limit: Int, payloadBytes: Int, measureFrom: UInt64, end: UInt64, done: EventLoopPromise<LatencyRecorder>) {
        self.limit = limit
        var frame = ByteBuffer()
        frame.writeInteger(UInt32(payloadBytes))
        frame.writeRepeatingByte(0x61, count: payloadBytes)
        self.frame = frame
        self.measureFrom = measureFrom
        self.end = end
        self.done = done
    }

    private var inFlight: Int { sentAt.count - head }

    func channelActive(context: ChannelHandlerContext) {
        let now = monotonicNanoseconds()
        while inFlight < limit { send(now: now) }
        writeSends(context: context)
        context.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffered == nil { buffered = incoming } else { buffered!.writeBuffer(&incoming) }
        let now = monotonicNanoseconds()
        while buffered!.skipLengthPrefixedFrame() {
            let sent = sentAt[head]
            head += 1
            if sent >= measureFrom { recorder.record(nanoseconds: now - sent, at: now) }
            if now < end { send(now: now) }
        }
        writeSends(context: context)
        if buffered!.readableBytes == 0 { buffered = nil }
        if head > 4096 && head * 2 > sentAt.count {
            sentAt.removeFirst(head)
            head = 0
        }
        if inFlight == 0 && !finished {
            finished = true
            done.succeed(recorder)
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    private func send(now: UInt64) {
        sentAt.append(now)
        outbound.writeImmutableBuffer(frame)
    }

    /// Writes the frames `send` added since the last call.
    private func writeSends(context: ChannelHandlerContext) {
        guard outbound.readableBytes > 0 else { return }
        context.write(wrapOutboundOut(outbound), promise: nil)
        outbound = context.channel.allocator.buffer(capacity: 8192)
    }
}
