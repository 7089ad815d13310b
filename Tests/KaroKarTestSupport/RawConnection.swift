public import KaroKarRPC
public import NIOCore
import NIOConcurrencyHelpers
import NIOPosix

/// A TCP connection that speaks frames by hand, for tests that must send what a well-behaved client
/// never would. Received frames are parsed with the production parser and queued.
public final class RawConnection: Sendable {
    public enum Event: Sendable, Equatable {
        case frame(Frame)
        /// The peer closed its side (FIN); only with `allowHalfClosure`, where the connection stays
        /// open for writing.
        case inputClosed
        case closed
    }

    private let channel: any Channel
    private let inbox: Inbox

    /// `allowHalfClosure`: the peer's FIN is an event (``Event/inputClosed``), not the end of the
    /// connection, so a test can go on writing to a server that has closed only its output.
    public static func connect(to address: SocketAddress, group: any EventLoopGroup, allowHalfClosure: Bool = false) async throws -> RawConnection {
        let inbox = Inbox()
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.allowRemoteHalfClosure, value: allowHalfClosure)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(inbox: inbox))
                }
            }
            .connect(to: address).get()
        return RawConnection(channel: channel, inbox: inbox)
    }

    private init(channel: any Channel, inbox: Inbox) {
        self.channel = channel
        self.inbox = inbox
    }

    /// Sends raw bytes.
    public func send(_ bytes: [UInt8]) async throws {
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        try await channel.writeAndFlush(buffer)
    }

    public func send(_ frame: Frame) async throws {
        var buffer = channel.allocator.buffer(capacity: 12 + frame.body.readableBytes)
        buffer.writeFrame(frame)
        try await channel.writeAndFlush(buffer)
    }

    /// The next frame or the close, waiting at most `timeout`; nil when nothing came in time.
    public func next(timeout: Duration = .seconds(5)) async -> Event? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let event = inbox.pop() { return event }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return inbox.pop()  // a starved test task may wake after the deadline: look once more
    }

    /// Frames until the connection closes (or `timeout`); true when it closed.
    public func drainUntilClosed(timeout: Duration = .seconds(10)) async -> (frames: [Frame], closed: Bool) {
        var frames: [Frame] = []
        while let event = await next(timeout: timeout) {
            switch event {
            case .frame(let frame): frames.append(frame)
            case .inputClosed: continue
            case .closed: return (frames, true)
            }
        }
        return (frames, false)
    }

    /// The errors the connection met (a reset by the peer, say), in order.
    public var errors: [String] { inbox.errors.withLockedValue { $0 } }

    public var isActive: Bool { channel.isActive }

    public func close() async {
        try? await channel.close()
    }

    final class Inbox: Sendable {
        private let events = NIOLockedValueBox<[Event]>([])
        let errors = NIOLockedValueBox<[String]>([])

        func push(_ event: Event) { events.withLockedValue { $0.append(event) } }

        func pop() -> Event? {
            events.withLockedValue { $0.isEmpty ? nil : $0.removeFirst() }
        }
    }

    final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        private let inbox: Inbox
        private var parser = FrameParser(maximumFrameBytes: FrameLayout.absoluteMaximumFrameBytes)

        init(inbox: Inbox) {
            self.inbox = inbox
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            parser.append(unwrapInboundIn(data))
            while let frame = try? parser.next() {
                inbox.push(.frame(frame))
            }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .inputClosed? = event as? ChannelEvent { inbox.push(.inputClosed) }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            inbox.errors.withLockedValue { $0.append("\(error)") }
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            inbox.push(.closed)
        }
    }
}
