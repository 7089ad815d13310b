import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import NIOCore

extension ServerConnectionHandler {
    // The frames the connection makes itself (handshake, PONG, DRAIN, refusals) are encoded
    // straight into the outgoing bytes; `write(_:)` with a buffer takes the frames made elsewhere.

    func write<M: ProtoMessage>(type: FrameType, callID: UInt32 = 0, message: M) {
        guard context != nil else { return }
        outbound.writeFrame(type: type, callID: callID, message: message)
        flushLater()
    }

    /// The REPLY that refuses call `callID` with `error`.
    func write(callID: UInt32, error: RPCError) {
        write(type: .reply, callID: callID, message: RPCV1.Reply(status: error.status))
    }

    func write(_ frame: Frame) {
        guard context != nil else { return }
        outbound.writeFrame(frame)
        flushLater()
    }

    /// Frames at least this large are handed to the channel as they are, not copied into
    /// ``outbound``; and ``outbound`` is given back after a flush once it has grown past it.
    static let directWriteBytes = 16 * 1024

    func write(_ buffer: ByteBuffer) {
        guard let context else { return }
        if buffer.readableBytes >= Self.directWriteBytes {
            writeOutbound(context)
            dispatcher.metrics?.sent(buffer.readableBytes)
            context.write(NIOAny(buffer), promise: nil)
        } else {
            outbound.writeImmutableBuffer(buffer)
        }
        flushLater()
    }

    /// Flushes when the read or batch of replies ends, or else on the loop's next turn.
    func flushLater() {
        guard !flushPending, let context else { return }
        flushPending = true
        if !batching {
            context.eventLoop.assumeIsolated().execute { [self] in flushIfPending() }
        }
    }

    /// Hands ``outbound`` to the channel, unflushed, and starts a new one (new storage: the
    /// channel holds the old until the flush).
    func writeOutbound(_ context: ChannelHandlerContext) {
        guard outbound.readableBytes > 0 else { return }
        dispatcher.metrics?.sent(outbound.readableBytes)
        context.write(NIOAny(outbound), promise: nil)
        outbound.clear()
    }

    func flushIfPending() {
        guard flushPending, let context else { return }
        flushPending = false
        if outbound.readableBytes > 0 {
            dispatcher.metrics?.sent(outbound.readableBytes)
            context.write(NIOAny(outbound), promise: nil)
            context.flush()
            // Usually written out by now, so the storage is this buffer's alone again and
            // clearing it costs no allocation; a grown one is given back.
            if outbound.capacity > Self.directWriteBytes {
                outbound = context.channel.allocator.buffer(capacity: 4096)
            } else {
                outbound.clear()
            }
        } else {
            context.flush()
        }
    }
}
