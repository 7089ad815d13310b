import KaroKarMessages
import KaroKarProto
import NIOCore

/// The client side of one connection: sends HELLO, assigns increasing call ids, matches REPLYs,
/// enforces a local deadline, handles DRAIN. Runs on the channel's event loop.
///
/// It knows which calls the server cannot have started, so that the client retries exactly those:
/// CALLs wait for HELLO_ACK before they are written (a connection a balancer accepted but could
/// not pass to a server, or a server closed at once, fails them as not started), and each CALL's
/// write is confirmed, so a call still unwritten when the connection is lost is not started either.
final class ClientConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    typealias Completion = CheckedContinuation<[UInt8], any Error>

    struct Pending {
        let completion: Completion
        var timer: Scheduled<Void>?
        let token: UInt64
        /// Its CALL frame was handed to the socket: from then on the outcome of a lost connection is unknown.
        var written = false
    }

    private let clientName: String
    private var parser: FrameParser
    private var context: ChannelHandlerContext?
    private var nextCallID: UInt32 = 1
    private var pending: [UInt32: Pending] = [:]
    private var callIDsByToken: [UInt64: UInt32] = [:]
    private var cancelledTokens: Set<UInt64> = []
    private var flushPending = false
    /// CALLs made before HELLO_ACK, written when it arrives.
    private var held: [(callID: UInt32, frame: ByteBuffer)] = []
    private var acknowledged = false
    /// Set by DRAIN: calls above it were not started.
    private(set) var drainedAfter: UInt32?
    private(set) var isClosed = false
    /// Called on the event loop when the connection stops taking new calls.
    var onUnusable: (() -> Void)?

    init(clientName: String, maximumFrameBytes: Int) {
        self.clientName = clientName
        self.parser = FrameParser(maximumFrameBytes: maximumFrameBytes)
    }

    var isUsable: Bool {
        !isClosed && drainedAfter == nil && nextCallID < UInt32.max
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { sendHello() }
    }

    func channelActive(context: ChannelHandlerContext) {
        sendHello()
        context.fireChannelActive()
    }

    private var helloSent = false

    private func sendHello() {
        guard !helloSent, let context else { return }
        helloSent = true
        var buffer = context.channel.allocator.buffer(capacity: 64)
        buffer.writeFrame(type: .hello, message: RPCV1.Hello(protocolVersion: 1, clientName: clientName))
        context.writeAndFlush(NIOAny(buffer), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        isClosed = true
        notifyUnusable()
        let lost = pending
        pending.removeAll()
        callIDsByToken.removeAll()
        held.removeAll()
        for (callID, call) in lost {
            call.timer?.cancel()
            if let drainedAfter, callID > drainedAfter {
                call.completion.resume(throwing: CallNotStarted(error: RPCError(.unavailable, "connection lost; the server had not started the call")))
            } else if !call.written {
                call.completion.resume(throwing: CallNotStarted(error: RPCError(.unavailable, "connection lost before the call was sent")))
            } else {
                call.completion.resume(throwing: CallOutcomeUnknown(error: RPCError(.unavailable, "connection lost before the reply")))
            }
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        parser.append(unwrapInboundIn(data))
        do {
            while let frame = try parser.next() {
                handle(frame)
            }
        } catch {
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    // MARK: - Calls

    /// Starts a call; `body` is an encoded `Call`. Completes with the reply payload or an error.
    func start(token: UInt64, body: ByteBuffer, timeout: Duration?, completion: Completion) {
        guard let context else {
            completion.resume(throwing: CallNotStarted(error: RPCError(.unavailable, "connection not ready")))
            return
        }
        if cancelledTokens.remove(token) != nil {
            completion.resume(throwing: RPCError(.cancelled, "the call was cancelled"))
            return
        }
        guard isUsable else {
            completion.resume(throwing: CallNotStarted(error: RPCError(.unavailable, "connection is draining or closed"), immediately: true))
            return
        }
        let callID = nextCallID
        nextCallID += 1
        var call = Pending(completion: completion, token: token)
        if let timeout {
            // The server enforces the deadline; this local timer covers a server that went silent.
            call.timer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timeout + .milliseconds(200))) { [self] in
                fail(callID, RPCError(.deadlineExceeded, "deadline exceeded (no reply from the server)"), sendCancel: true)
            }
        }
        pending[callID] = call
        callIDsByToken[token] = callID
        var frame = context.channel.allocator.buffer(capacity: FrameLayout.lengthFieldSize + FrameLayout.headerSize + body.readableBytes)
        frame.writeFrame(Frame(type: .call, callID: callID, body: body))
        if acknowledged {
            write(call: callID, frame)
        } else {
            held.append((callID, frame))
        }
    }

    /// Writes a CALL and marks it written once the socket took all of it.
    private func write(call callID: UInt32, _ frame: ByteBuffer) {
        guard let context else { return }
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenSuccess { [self] in
            pending[callID]?.written = true
        }
        context.write(NIOAny(frame), promise: promise)
        scheduleFlush()
    }

    func cancel(token: UInt64) {
        guard let callID = callIDsByToken[token] else {
            cancelledTokens.insert(token)
            return
        }
        fail(callID, RPCError(.cancelled, "the call was cancelled"), sendCancel: true)
    }

    private func fail(_ callID: UInt32, _ error: RPCError, sendCancel: Bool) {
        guard let call = pending.removeValue(forKey: callID) else { return }
        callIDsByToken[call.token] = nil
        call.timer?.cancel()
        call.completion.resume(throwing: error)
        if let index = held.firstIndex(where: { $0.callID == callID }) {
            held.remove(at: index)  // never sent: nothing to cancel
            return
        }
        if sendCancel, let context, !isClosed {
            var frame = context.channel.allocator.buffer(capacity: 16)
            frame.writeFrameHeader(type: FrameType.cancel.rawValue, callID: callID, bodyLength: 0)
            write(frame)
        }
    }

    // MARK: - Frames

    private func handle(_ frame: Frame) {
        switch frame.type {
        case .reply: handleReply(frame)
        case .drain: handleDrain(frame)
        case .ping: write(pong: frame)
        case .helloAck: handleHelloAck()
        case .pong: break
        default:
            if frame.typeByte < FrameType.firstIgnorable { context?.close(promise: nil) }
        }
    }

    private func handleReply(_ frame: Frame) {
        guard let call = pending.removeValue(forKey: frame.callID) else { return }
        callIDsByToken[call.token] = nil
        call.timer?.cancel()
        do {
            let reply = try frame.body.withUnsafeReadableBytes { try ProtoCodec.decode(RPCV1.Reply.self, from: $0) }
            let status = reply.status ?? RPCV1.Status()
            if status.code == .ok {
                call.completion.resume(returning: reply.payload)
            } else {
                let error = RPCError(status: status)
                let notStarted = [TransportDomainCode.draining, TransportDomainCode.tooManyCalls].contains(error.domainCode)
                call.completion.resume(throwing: notStarted
                    ? CallNotStarted(error: error, immediately: error.domainCode == TransportDomainCode.draining) : error)
            }
        } catch {
            call.completion.resume(throwing: RPCError(.internal, "undecodable REPLY from the server"))
        }
    }

    private func handleHelloAck() {
        guard !acknowledged else { return }
        acknowledged = true
        let waiting = held
        held.removeAll()
        for (callID, frame) in waiting where pending[callID] != nil {
            write(call: callID, frame)
        }
    }

    private func handleDrain(_ frame: Frame) {
        let drain = try? frame.body.withUnsafeReadableBytes { try ProtoCodec.decode(RPCV1.Drain.self, from: $0) }
        let last = drain?.lastCallId ?? 0
        drainedAfter = min(drainedAfter ?? last, last)
        notifyUnusable()
        for callID in pending.keys where callID > last {
            let reason = drain?.status?.message ?? "drained"
            if let call = pending.removeValue(forKey: callID) {
                callIDsByToken[call.token] = nil
                call.timer?.cancel()
                call.completion.resume(throwing: CallNotStarted(error: RPCError(.unavailable, "not started: \(reason)"), immediately: true))
            }
        }
    }

    private func notifyUnusable() {
        onUnusable?()
        onUnusable = nil
    }

    // MARK: - Writing

    private func write(pong ping: Frame) {
        guard let context else { return }
        var frame = context.channel.allocator.buffer(capacity: 16 + ping.body.readableBytes)
        frame.writeFrame(Frame(type: .pong, callID: ping.callID, body: ping.body))
        write(frame)
    }

    private func write(_ buffer: ByteBuffer) {
        guard let context else { return }
        context.write(NIOAny(buffer), promise: nil)
        scheduleFlush()
    }

    private func scheduleFlush() {
        guard let context, !flushPending else { return }
        flushPending = true
        context.eventLoop.assumeIsolated().execute { [self] in
            flushPending = false
            self.context?.flush()
        }
    }
}

@available(*, unavailable)
extension ClientConnectionHandler: Sendable {}
