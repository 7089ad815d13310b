import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import NIOCore

/// Drives calls on one connection, entirely on its event loop: no task, continuation or lock per
/// call, CALL frames written into one buffer per loop tick, REPLY status read in place. This keeps
/// the load generator's own cost to a few microseconds per call.
///
/// Closed loop: `limit` calls in flight, a new one as soon as one completes. Open loop: calls are
/// intended at fixed intervals; latency counts from the intended start, so a stalled server
/// cannot hide its stall by delaying the calls that would have measured it (coordinated omission).
final class LoadConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Work: Sendable {
        var limit: Int
        var schedule: LoadSchedule
        var frames: CallFrameWriter
        var requests: RequestSource
        /// Sequence numbers of this connection: `first`, `first + stride`, ...
        var firstSequence: UInt64
        var sequenceStride: UInt64
        var random: BenchRandom
        /// Width of the time series' windows, in nanoseconds.
        var seriesWidth: UInt64 = 100_000_000
    }

    private let ready: EventLoopPromise<RPCV1.HelloAck>
    private let done: EventLoopPromise<LoadStats>
    private var context: ChannelHandlerContext?
    private var parser = FrameParser(maximumFrameBytes: FrameLayout.absoluteMaximumFrameBytes)
    private var work: Work?
    private var stats = LoadStats()
    private var pending = PendingCalls(limit: 64)
    private var nextCallID: UInt32 = 1
    private var nextIntended: UInt64 = 0
    private var sequence: UInt64 = 0
    private var measuredStarted = 0
    private var stopped = false
    private var timerArmed = false
    private var out = ByteBuffer()
    private var acknowledged = false
    private var finished = false

    init(ready: EventLoopPromise<RPCV1.HelloAck>, done: EventLoopPromise<LoadStats>) {
        self.ready = ready
        self.done = done
    }

    /// Measured calls completed so far and how many failed, for the progress line.
    var progress: (completed: Int, failed: Int) { (stats.requests, stats.failures) }

    // MARK: - Channel events

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        context.writeAndFlush(NIOAny(CallFrameWriter.hello(clientName: "karokar-bench")), promise: nil)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !acknowledged {
            acknowledged = true
            ready.fail(RPCError(.unavailable, "the server closed the connection during the handshake"))
        }
        let now = Self.now()
        for intended in pending.values where work?.schedule.isMeasured(intended) == true {
            stats.record(.connectionLost, latency: now &- intended, at: now)
        }
        pending.removeAll()
        stopped = true
        finishIfDone(force: true)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        parser.append(unwrapInboundIn(data))
        let now = Self.now()
        do {
            while let frame = try parser.next() { handle(frame, now: now) }
        } catch {
            context.close(promise: nil)
            return
        }
        startDue(now: now)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush()
        context.fireChannelReadComplete()
    }

    // MARK: - Starting and stopping

    /// Begins sending; called on the event loop once the handshake is done.
    func begin(_ work: Work, at start: UInt64) {
        self.work = work
        stats = LoadStats(series: TimeSeries(origin: work.schedule.measureFrom, width: work.seriesWidth))
        pending = PendingCalls(limit: work.limit)
        sequence = work.firstSequence
        nextIntended = start
        startDue(now: Self.now())
        flush()
    }

    private func startDue(now: UInt64) {
        guard var work, !stopped else { return }
        while pending.count < work.limit && !stopped {
            // Closed loop: as soon as a slot is free, but not before the run's start (calls before
            // it would be warm-up: sent and never counted).
            let intended = work.schedule.interval == nil ? max(now, nextIntended) : nextIntended
            guard intended <= now else { break }
            guard work.schedule.allows(intended, measuredStarted: measuredStarted) else {
                stop(after: work.schedule.grace)
                break
            }
            send(intended: intended, work: &work)
        }
        self.work = work
        armTimer()
    }

    private func send(intended: UInt64, work: inout Work) {
        let payload: [UInt8]
        do {
            payload = try work.requests.render(sequence: sequence, random: &work.random)
        } catch {
            stats.record(.badRequest, latency: 0, at: intended)
            stop(after: work.schedule.grace)
            return
        }
        if work.schedule.isMeasured(intended) { measuredStarted += 1 }
        sequence &+= work.sequenceStride
        if let interval = work.schedule.interval { nextIntended &+= interval }
        let callID = nextCallID
        nextCallID &+= 1
        pending.insert(callID, intended: intended)
        work.frames.write(callID: callID, payload: payload, into: &out)
    }

    /// Open loop: wake up at the next intended start unless a reply will (all slots busy).
    private func armTimer() {
        guard let context, let work, work.schedule.interval != nil || nextIntended > Self.now(), !stopped, !timerArmed,
              pending.count < work.limit else { return }
        timerArmed = true
        context.eventLoop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(nextIntended)) { [self] in
            timerArmed = false
            startDue(now: Self.now())
            flush()
        }
    }

    private func stop(after grace: UInt64) {
        guard !stopped, let context else { return }
        stopped = true
        finishIfDone()
        context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(clamping: grace))) { [self] in
            let now = Self.now()
            for intended in pending.values where work?.schedule.isMeasured(intended) == true {
                stats.record(.noReply, latency: now &- intended, at: now)
            }
            pending.removeAll()
            finishIfDone()
        }
    }

    private func finishIfDone(force: Bool = false) {
        guard stopped, !finished, pending.isEmpty || force else { return }
        finished = true
        done.succeed(stats)
    }

    // MARK: - Frames

    private func handle(_ frame: Frame, now: UInt64) {
        switch frame.type {
        case .reply: handleReply(frame, now: now)
        case .helloAck: handleHelloAck(frame)
        case .ping:
            out.writeFrame(Frame(type: .pong, callID: frame.callID, body: frame.body))
        case .drain:
            stopped = true  // calls in flight are answered, or lost with the connection
            finishIfDone()
        default:
            break
        }
    }

    private func handleHelloAck(_ frame: Frame) {
        guard !acknowledged else { return }
        acknowledged = true
        do {
            ready.succeed(try ProtoCodec.decode(RPCV1.HelloAck.self, from: Array(buffer: frame.body)))
        } catch {
            ready.fail(RPCError(.internal, "undecodable HELLO_ACK from the server"))
        }
    }

    private func handleReply(_ frame: Frame, now: UInt64) {
        guard let intended = pending.remove(frame.callID) else { return }
        if work?.schedule.isMeasured(intended) == true {
            if let status = ReplyStatus(replyBody: frame.body) {
                stats.record(code: status.code, domainCode: status.domainCode, latency: now &- intended, at: now)
            } else {
                stats.record(.badReply, latency: now &- intended, at: now)
            }
        }
        finishIfDone()
    }

    private func flush() {
        guard let context, out.readableBytes > 0 else { return }
        context.writeAndFlush(NIOAny(out), promise: nil)
        out = context.channel.allocator.buffer(capacity: 16 * 1024)
    }

    static func now() -> UInt64 {
        NIODeadline.now().uptimeNanoseconds
    }
}

@available(*, unavailable)
extension LoadConnectionHandler: Sendable {}
