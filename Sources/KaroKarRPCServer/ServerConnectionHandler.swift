import KaroKarRPC
import KaroKarMessages
import KaroKarProto
import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// Sent through a connection's pipeline to start a graceful drain.
public struct ServerDrainEvent: Sendable {
    public init() {}
}

/// One server connection: framing, handshake, call admission, deadlines, cancel, ping, idle and
/// slow-drip timeouts, drain. Runs on the channel's event loop. A call to an immediate route
/// (``RPCRoute/init(_:immediateHandler:)``) that every interceptor admits on the spot is answered
/// right here, as its frame is read. Every other call runs in its own task (decode, interceptors,
/// handler, encode), which by default starts on this loop and stays until its first suspension
/// (`RPCServer.Configuration.startsCallsOnEventLoop`), and hands its REPLY frame back through a
/// ``ReplyMailbox``, in batches. Replies are flushed once per batch or read,
/// not once per reply, and one timer, armed for the earliest deadline, serves every call's deadline.
///
/// Backpressure: when the replies the peer has not read pass the high-water mark (the channel's
/// write buffer water mark, `ServerLimits.outboundHighWaterBytes`), the connection stops taking
/// frames from its read buffer and stops reading the socket, until they are below the low-water
/// mark again; a peer that lets them stay above it for the stall timeout is disconnected.
final class ServerConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Phase {
        case awaitingHello
        case open
        case draining
        case closed
    }

    struct InFlightCall {
        var task: Task<Void, Never>?
        var deadline: NIODeadline?
    }

    let dispatcher: CallDispatcher
    private let limits: ServerLimits
    private let serverName: String
    private let startsCallsOnEventLoop: Bool
    var logger: Logger
    var phase = Phase.awaitingHello
    var parser: FrameParser
    private var calls: [UInt32: InFlightCall] = [:]
    private var lastCallID: UInt32 = 0
    private var lastActivity = NIODeadline.now()
    /// When the last read arrived: call deadlines count from it.
    private var readTime = NIODeadline.now()
    /// The immediate calls answered and the bytes read since the metrics last heard of them.
    private var tally = CallTally()
    var partialFrameSince: NIODeadline?
    /// False while the bytes written and not yet sent are over the high-water mark (until they
    /// fall below the low-water mark): no frame is handled and the socket is not read meanwhile.
    var writable = true
    /// Since when the connection has not been writable.
    var stalledSince: NIODeadline?
    /// When the channel became active (the handshake timeout runs from then); nil before.
    private var startedAt: NIODeadline?
    /// Checks this connection's timeouts with those of the loop's other connections.
    private let sweeper: ConnectionSweeper
    var flushPending = false
    /// Frames written since the last flush, in one buffer: one pipeline write and one iovec per
    /// flush instead of one per frame. Immediate calls encode their replies straight into it.
    var outbound = ByteBuffer()
    /// Inside a read or a batch of replies, which flush when they end.
    var batching = false
    private var deadlineTimer = CallDeadlineTimer()
    private var mailbox: ReplyMailbox?
    private var methodCache: MethodCache? = MethodCache()
    var context: ChannelHandlerContext?
    private var peer = "?"
    /// With mutual TLS: the verified client certificate's identity, known once the handshake is done.
    private var clientCertificate: String?
    /// What the connection's calls share; made again when the logger changes.
    private var callConnection: CallConnection

    init(dispatcher: CallDispatcher, serverName: String, sweeper: ConnectionSweeper, startsCallsOnEventLoop: Bool = true) {
        self.dispatcher = dispatcher
        self.sweeper = sweeper
        self.startsCallsOnEventLoop = startsCallsOnEventLoop
        self.limits = dispatcher.limits
        self.serverName = serverName
        self.logger = dispatcher.logger
        self.parser = FrameParser(maximumFrameBytes: dispatcher.limits.maximumFrameBytes)
        self.callConnection = CallConnection(peer: peer, logger: logger)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        mailbox = ReplyMailbox(loop: context.eventLoop) { [weak self] replies in self?.deliver(replies) }
        peer = context.channel.remoteAddress?.description ?? "?"
        logger[metadataKey: "rpc.peer"] = "\(peer)"
        callConnection = CallConnection(peer: peer, logger: logger, attributes: callConnection.attributes, clientCertificate: clientCertificate)
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard startedAt == nil else { return }
        startedAt = .now()
        sweeper.add(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        sweeper.remove(self)
    }

    func channelInactive(context: ChannelHandlerContext) {
        phase = .closed
        sweeper.remove(self)
        deadlineTimer.cancel()
        for call in calls.values {
            call.task?.cancel()
        }
        if !calls.isEmpty { dispatcher.metrics?.callsInFlight.decrement(by: Double(calls.count)) }
        calls.removeAll()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard phase != .closed else { return }
        readTime = .now()
        lastActivity = readTime
        let bytes = unwrapInboundIn(data)
        tally.bytesReceived &+= bytes.readableBytes
        parser.append(bytes)
        handleBufferedFrames(arrivedAt: readTime)
    }

    /// Handles the complete frames in the read buffer, until it has none or the connection stops
    /// being writable. Replies are sent every `directWriteBytes` (not only when the read ends), so
    /// that the channel's count of unsent bytes, and with it the writability, follows them frame
    /// by frame and counts only what the peer has not read.
    /// `arrivedAt` starts the frame timeout of a frame left incomplete.
    @inline(__always)
    func handleBufferedFrames(arrivedAt: NIODeadline) {
        batching = true
        defer {
            batching = false
            if !tally.isEmpty { recordTally() }
        }
        var completedFrame = false
        do {
            while phase != .closed, writable, let frame = try parser.next() {
                completedFrame = true
                handle(frame)
                if outbound.readableBytes >= Self.directWriteBytes, let context {
                    writeOutbound(context)
                    context.flush()
                }
            }
        } catch {
            closeWithError(RPCError(
                error.isTooLarge ? .resourceExhausted : .invalidArgument, "protocol error: \(error)"
            ))
            return
        }
        // The frame timeout runs from the first byte of the frame still incomplete, and only while
        // the connection reads: the frames it holds back while not writable are not the peer's delay.
        if !writable || !parser.hasPartialFrame {
            partialFrameSince = nil
        } else if completedFrame || partialFrameSince == nil {
            partialFrameSince = arrivedAt
        }
    }

    /// The immediate calls of the frames just handled, timed from the read that brought them
    /// to now (their REPLYs are encoded and go out with this read's flush): one clock reading and
    /// one uncontended lock for all of them.
    private func recordTally() {
        if let metrics = dispatcher.metrics {
            metrics.statistics.record(tally, nanoseconds: tally.entries.isEmpty ? 0 : (NIODeadline.now() - readTime).nanoseconds)
        }
        tally.removeAll()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfPending()
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ServerDrainEvent {
            beginDrain(RPCError(.ok, "server shutting down"))
        } else if case .handshakeCompleted? = event as? TLSUserEvent {
            // Before any frame: TLS delivers no data before its handshake has completed.
            if let identity = RPCTLS.identity(of: try? context.pipeline.syncOperations.nioSSL_peerCertificate()) {
                clientCertificate = identity
                logger[metadataKey: "rpc.tls.client"] = "\(identity)"
                callConnection = CallConnection(peer: peer, logger: logger, attributes: callConnection.attributes, clientCertificate: clientCertificate)
            }
            context.fireUserInboundEventTriggered(event)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: - Frames

    private func handle(_ frame: Frame) {
        guard let type = frame.type else {
            if frame.typeByte < FrameType.firstIgnorable {
                protocolError("unknown frame type 0x\(String(frame.typeByte, radix: 16))")
            }
            return
        }
        if phase == .awaitingHello && type != .hello {
            protocolError("the first frame must be HELLO")
            return
        }
        switch type {
        case .hello: handleHello(frame)
        case .call: handleCall(frame)
        case .cancel: finish(frame.callID, with: dispatcher.replyFrame(callID: frame.callID, error: RPCError(.cancelled, "cancelled by the client")))
        case .ping: write(Frame(type: .pong, callID: frame.callID, body: frame.body))
        case .pong: break
        case .helloAck, .reply, .drain: protocolError("clients do not send \(type) frames")
        }
    }

    private func handleHello(_ frame: Frame) {
        guard phase == .awaitingHello else {
            protocolError("HELLO sent twice")
            return
        }
        guard let hello = try? frame.body.withUnsafeReadableBytes({ try ProtoCodec.decode(RPCV1.Hello.self, from: $0, budget: 16 * 1024) }) else {
            protocolError("HELLO body is not a valid karokar.rpc.v1.Hello")
            return
        }
        guard hello.protocolVersion == 1 else {
            closeWithError(RPCError(.failedPrecondition, "unsupported protocol version \(hello.protocolVersion); this server speaks 1"))
            return
        }
        phase = .open
        if !hello.clientName.isEmpty {
            logger[metadataKey: "rpc.client"] = "\(hello.clientName.prefix(64))"
            callConnection = CallConnection(peer: peer, logger: logger, attributes: callConnection.attributes, clientCertificate: clientCertificate)
        }
        let ack = RPCV1.HelloAck(
            protocolVersion: 1, serverName: serverName, maxFrameBytes: UInt32(limits.maximumFrameBytes),
            maxCallsInFlight: UInt32(limits.maximumCallsInFlight), maxMetadataBytes: UInt32(limits.maximumMetadataBytes),
            idleTimeoutMillis: UInt32(clamping: TimeAmount(limits.idleTimeout).nanoseconds / 1_000_000),
            maxRequestBytes: UInt32(limits.maximumRequestBytes)
        )
        write(type: .helloAck, message: ack)
    }

    private func handleCall(_ frame: Frame) {
        let callID = frame.callID
        guard callID > lastCallID else {
            protocolError("call id \(callID) is not above the previous one (\(lastCallID))")
            return
        }
        lastCallID = callID
        if phase == .draining {
            dispatcher.metrics?.refusedDraining.increment()
            write(callID: callID, error: RPCError(.unavailable, "the server is draining; retry elsewhere", domainCode: TransportDomainCode.draining))
            return
        }
        guard calls.count < limits.maximumCallsInFlight else {
            dispatcher.metrics?.refusedTooMany.increment()
            write(callID: callID, error: RPCError(.resourceExhausted, "more than \(limits.maximumCallsInFlight) calls in flight", domainCode: TransportDomainCode.tooManyCalls))
            return
        }
        do {
            try startCall(callID, envelope: CallEnvelope.decode(frame.body, limits: limits, cache: &methodCache))
        } catch {
            dispatcher.metrics?.refusedBadCall.increment()
            write(callID: callID, error: error)
        }
    }

    private func startCall(_ callID: UInt32, envelope: consuming CallEnvelope) throws(RPCError) {
        guard let target = methodCache?.target(for: envelope.path) ?? dispatcher.target(for: envelope.path) else {
            throw RPCError(.unimplemented, "unknown method \(envelope.path.prefix(CallEnvelope.maximumPathBytes))", domainCode: TransportDomainCode.unknownMethod)
        }
        methodCache?.remember(target, for: envelope.path)
        let deadline = try deadline(timeoutMicros: envelope.timeoutMicros)
        var callContext = ServerCallContext(
            methodInfo: target.methodInfo, callID: callID, metadata: envelope.metadata, deadline: deadline,
            connectionInfo: callConnection
        )
        let payload = envelope.payload
        // An immediate route is answered here and now when the interceptors allow it: the reply
        // is encoded into the outgoing bytes and goes out with this read's flush, and the call
        // never enters `calls`.
        if let invokeNow = target.route.invokeNow,
           dispatcher.executeNow(
               invokeNow, target: target, receivedAt: readTime, payload: payload, context: &callContext, into: &outbound, tally: &tally
           ) {
            flushLater()
            return
        }
        let taskContext = callContext
        let dispatcher = self.dispatcher
        let mailbox = self.mailbox!
        // The reply is posted, never written from here: `calls[callID]` is set before it arrives.
        // (The closures are written out twice: one shared closure value costs an allocation.)
        let task: Task<Void, Never>
        if #available(macOS 26.0, *), startsCallsOnEventLoop {
            task = Task.immediate(executorPreference: target.executor) {
                mailbox.post(callID: callID, frame: await dispatcher.execute(target, payload: payload, context: taskContext))
            }
        } else {
            task = Task(executorPreference: target.executor) {
                mailbox.post(callID: callID, frame: await dispatcher.execute(target, payload: payload, context: taskContext))
            }
        }
        calls[callID] = InFlightCall(task: task, deadline: deadline)
        dispatcher.metrics?.callsInFlight.increment()
        if let deadline { armDeadlineTimer(at: deadline) }
    }

    /// The deadline of a call that asks for `timeoutMicros` (0: none), counted from the read that
    /// brought its frame and capped at a day; DEADLINE_EXCEEDED if it has passed already, before
    /// the call starts (the clock is read only for calls with a deadline).
    @inline(__always)
    private func deadline(timeoutMicros: UInt64) throws(RPCError) -> NIODeadline? {
        guard timeoutMicros != 0 else { return nil }
        let deadline = readTime + .microseconds(Int64(min(timeoutMicros, ServerLimits.maximumTimeoutMicros)))
        guard NIODeadline.now() < deadline else {
            throw RPCError(.deadlineExceeded, "deadline exceeded")
        }
        return deadline
    }

    private func deliver(_ replies: [ReplyMailbox.Reply]) {
        batching = true
        // The task posted its own reply as its last step: nothing left to cancel.
        for reply in replies { finish(reply.callID, with: reply.frame, cancellingTask: false) }
        batching = false
        flushIfPending()
    }

    /// Writes the call's single REPLY, unless it already has one (cancelled, deadline passed).
    private func finish(_ callID: UInt32, with reply: ByteBuffer, cancellingTask: Bool = true) {
        guard let call = calls.removeValue(forKey: callID) else { return }
        dispatcher.metrics?.callsInFlight.decrement()
        if cancellingTask { call.task?.cancel() }
        lastActivity = .now()  // the idle clock counts from the last call too, not only the last byte in
        write(reply)
        if phase == .draining && calls.isEmpty { closeAfterFlush(gracefully: true) }
    }

    // MARK: - Drain, errors, timeouts

    private func beginDrain(_ status: RPCError) {
        switch phase {
        case .awaitingHello:
            closeWithError(status)
        case .open:
            phase = .draining
            write(type: .drain, message: RPCV1.Drain(lastCallId: lastCallID, status: status.status))
            if calls.isEmpty { closeAfterFlush(gracefully: true) }
        case .draining, .closed:
            break
        }
    }

    private func protocolError(_ message: String) {
        closeWithError(RPCError(.invalidArgument, "protocol error: \(message)"))
    }

    /// Sends DRAIN with the reason and closes at once; in-flight calls are cancelled.
    private func closeWithError(_ error: RPCError) {
        guard phase != .closed, context != nil else { return }
        logger.info("closing connection", metadata: ["rpc.code": "\(error.code)", "reason": "\(error.message)"])
        write(type: .drain, message: RPCV1.Drain(lastCallId: lastCallID, status: error.status))
        closeAfterFlush()
    }

    /// Closes once everything written has been flushed. `gracefully` (the end of a drain): only
    /// the output first (FIN after the last REPLY), then, once the peer closes its side or
    /// ``closeLinger`` has passed, the rest, reading and discarding what still arrives meanwhile
    /// (CALLs the peer sent before it read the DRAIN; it knows from `last_call_id` that they were
    /// not started). Closing at once with such bytes unread makes the kernel send a reset instead
    /// of a FIN, and a reset can destroy the last REPLYs still in the peer's (or a proxy's) buffers:
    /// calls the server finished would fail as "connection lost before the reply".
    private func closeAfterFlush(gracefully: Bool = false) {
        guard phase != .closed, let context else { return }
        phase = .closed
        writeOutbound(context)
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(capacity: 0))).assumeIsolated().whenComplete { result in
            guard gracefully, case .success = result else {
                context.close(promise: nil)
                return
            }
            context.close(mode: .output).assumeIsolated().whenComplete { outputClosed in
                guard case .success = outputClosed else {
                    context.close(promise: nil)
                    return
                }
                context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeLinger) { context.close(promise: nil) }
            }
        }
    }

    /// How long a drained connection waits for the peer to close its side after the server's FIN.
    static let closeLinger = TimeAmount.seconds(2)

    private func armDeadlineTimer(at deadline: NIODeadline) {
        deadlineTimer.arm(at: deadline, on: context!.eventLoop) { [self] in
            deadlineTimer.fired()
            expireDeadlines()
        }
    }

    /// Answers DEADLINE_EXCEEDED for every call whose deadline has passed; re-arms for the rest.
    private func expireDeadlines() {
        let (expired, next) = CallDeadlineTimer.due(calls.lazy.map { ($0.key, $0.value.deadline) }, now: .now())
        for callID in expired {
            finish(callID, with: dispatcher.replyFrame(callID: callID, error: RPCError(.deadlineExceeded, "deadline exceeded")))
        }
        if let next { armDeadlineTimer(at: next) }
    }

    /// Called by the loop's ``ConnectionSweeper`` every quarter of the shortest timeout.
    func checkTimeouts(now: NIODeadline) {
        if phase == .awaitingHello, let startedAt, now - startedAt > TimeAmount(limits.handshakeTimeout) {
            closeWithError(RPCError(.deadlineExceeded, "no HELLO within the handshake timeout"))
        } else if let since = stalledSince, now - since > TimeAmount(limits.outboundStallTimeout) {
            closeStalled()
        } else if let since = partialFrameSince, now - since > TimeAmount(limits.frameTimeout) {
            closeWithError(RPCError(.deadlineExceeded, "a frame took longer than the frame timeout to arrive"))
        } else if phase == .open, writable, calls.isEmpty, now - lastActivity > TimeAmount(limits.idleTimeout) {
            beginDrain(RPCError(.ok, "idle timeout"))
        }
    }
}

@available(*, unavailable)
extension ServerConnectionHandler: Sendable {}

extension FrameError {
    var isTooLarge: Bool {
        if case .frameTooLarge = self { return true }
        return false
    }
}
