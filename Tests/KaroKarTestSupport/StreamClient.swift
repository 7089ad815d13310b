public import KaroKarRPC
public import KaroKarMessages
import KaroKarProto
public import NIOCore
import NIOConcurrencyHelpers
import NIOPosix

/// A TCP connection that writes whatever bytes a test gives it, split as the test chooses, and
/// counts the frames that come back without keeping them: for tests that push megabytes through
/// a connection. It can start without reading at all (a peer that never reads its replies) and
/// be told to read later.
public final class StreamClient: Sendable {
    /// What came back so far.
    public struct Counts: Sendable {
        public var frames = 0
        /// REPLY frames by status code.
        public var replies: [RPCCode: Int] = [:]
        public var closed = false
    }

    private let channel: any Channel
    private let received: NIOLockedValueBox<Counts>

    /// Connects; with `reading` false nothing is read from the socket until ``startReading()``,
    /// and `receiveBufferBytes` shrinks the socket's receive buffer so that the server feels it soon.
    public static func connect(
        to address: SocketAddress, group: any EventLoopGroup, reading: Bool = true, receiveBufferBytes: Int? = nil
    ) async throws -> StreamClient {
        let received = NIOLockedValueBox(Counts())
        var bootstrap = ClientBootstrap(group: group)
            .channelOption(.autoRead, value: reading)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Counter(received: received))
                }
            }
        if let receiveBufferBytes {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBufferBytes))
        }
        return StreamClient(channel: try await bootstrap.connect(to: address).get(), received: received)
    }

    private init(channel: any Channel, received: NIOLockedValueBox<Counts>) {
        self.channel = channel
        self.received = received
    }

    public var counts: Counts { received.withLockedValue { $0 } }

    /// REPLY frames with status OK so far.
    public var okReplies: Int { counts.replies[.ok] ?? 0 }

    public var isActive: Bool { channel.isActive }

    /// Writes and flushes `bytes`; returns when the socket took them.
    public func write(_ bytes: ByteBuffer) async throws {
        try await channel.writeAndFlush(bytes)
    }

    /// Writes and flushes `bytes` without waiting: they queue in the client while the server does not read.
    public func writeWithoutWaiting(_ bytes: ByteBuffer) {
        channel.writeAndFlush(bytes, promise: nil)
    }

    /// Reads from now on.
    public func startReading() async throws {
        try await channel.setOption(.autoRead, value: true).get()
    }

    public func close() async {
        try? await channel.close()
    }

    final class Counter: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        private let received: NIOLockedValueBox<Counts>
        private var parser = FrameParser(maximumFrameBytes: FrameLayout.absoluteMaximumFrameBytes)

        init(received: NIOLockedValueBox<Counts>) {
            self.received = received
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            parser.append(unwrapInboundIn(data))
            while let frame = try? parser.next() {
                let code = frame.type == .reply ? Self.code(of: frame) : nil
                received.withLockedValue { counts in
                    counts.frames += 1
                    if let code { counts.replies[code, default: 0] += 1 }
                }
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            received.withLockedValue { $0.closed = true }
        }

        /// An OK REPLY starts `0a 00` (an empty status); anything else is decoded.
        private static func code(of frame: Frame) -> RPCCode {
            if frame.body.readableBytesView.starts(with: [0x0A, 0x00]) { return .ok }
            let reply = try? ProtoCodec.decode(RPCV1.Reply.self, from: Array(frame.body.readableBytesView))
            return reply?.status?.code ?? .unknown
        }
    }
}
