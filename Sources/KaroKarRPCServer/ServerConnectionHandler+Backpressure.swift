import KaroKarMessages
import KaroKarRPC
import NIOCore

/// Backpressure: a connection whose peer does not read its replies stops handling frames and
/// reading its socket (the channel's `autoRead` is off) while the channel is not writable (its
/// unsent bytes passed the high-water mark, `ServerLimits.outboundHighWaterBytes`, and have not
/// yet fallen below the low-water mark), and is closed when that lasts for the stall timeout.
/// Only the changes of writability cost anything: reads and frames go on as before.
extension ServerConnectionHandler {
    /// The channel's count of unsent bytes crossed a water mark. The connection resumes on the
    /// loop's next turn, not here: this can run inside one of its own writes or flushes.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let isWritable = context.channel.isWritable
        if isWritable != writable {
            writable = isWritable
            if isWritable {
                stalledSince = nil
                context.eventLoop.assumeIsolated().execute { [self] in resume() }
            } else {
                stalledSince = .now()
                setAutoRead(false, context: context)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    /// Handles the frames held back while the connection was not writable, then reads again.
    func resume() {
        guard writable, phase != .closed, let context else { return }
        if parser.hasPartialFrame {
            partialFrameSince = nil
            handleBufferedFrames(arrivedAt: .now())
            flushIfPending()
        }
        if writable { setAutoRead(true, context: context) }
    }

    /// Off, the channel reads no more after the read under way; on again, it reads at once.
    private func setAutoRead(_ on: Bool, context: ChannelHandlerContext) {
        try? context.channel.syncOptions?.setOption(.autoRead, value: on)
    }

    /// Closes a connection whose peer has not read its replies for the stall timeout, without a
    /// DRAIN: it would wait behind the replies the peer does not read. Calls in flight are cancelled.
    func closeStalled() {
        guard let context else { return }
        logger.info("closing connection", metadata: [
            "rpc.code": "\(RPCCode.deadlineExceeded)", "reason": "the peer has not read its replies within the stall timeout",
        ])
        phase = .closed
        stalledSince = nil
        context.close(promise: nil)
    }
}

/// What one connection holds in memory (``RPCServer/connectionBuffers()``).
package struct ConnectionBuffers: Sendable {
    /// The capacity of the read buffer: frames not yet handled and the start of the next one.
    package var readCapacity: Int
    /// Bytes read and not yet handled.
    package var unhandledBytes: Int
    /// Reply bytes written and not yet sent: in the connection's outgoing buffer and the channel's.
    package var outboundBytes: Int
    /// True while the connection neither handles frames nor reads (its peer does not read).
    package var stopped: Bool
}

extension ServerConnectionHandler {
    var buffers: ConnectionBuffers {
        let unsent = (try? context?.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        return ConnectionBuffers(
            readCapacity: parser.bufferCapacity, unhandledBytes: parser.bufferedBytes,
            outboundBytes: outbound.readableBytes + unsent, stopped: !writable
        )
    }
}
