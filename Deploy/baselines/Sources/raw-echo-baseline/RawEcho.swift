import ArgumentParser
import BaselineSupport
import NIOCore
import NIOPosix

/// The ceiling: a length-prefixed echo (4-byte big-endian length, then the payload) in plain
/// SwiftNIO, no protobuf, no tasks; replies flushed once per read batch.
@main
struct RawEcho: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raw-echo-baseline", abstract: "Raw SwiftNIO length-prefixed echo: server and load generator.",
        subcommands: [Serve.self, Bench.self]
    )

    struct Serve: AsyncParsableCommand {
        @OptionGroup var options: ServeOptions

        func run() async throws {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(EchoServerHandler()) }
                }
                .bind(host: "127.0.0.1", port: options.port).get()
            print("raw echo listening on \(channel.localAddress!)")
            try await channel.closeFuture.get()
        }
    }

    struct Bench: AsyncParsableCommand {
        @OptionGroup var options: LoadOptions

        func run() async throws {
            let report = try await RawEchoLoad(options: options).run()
            print(report.json)
        }
    }
}

/// Echoes every complete frame back as it is. Each frame is read as a message and its answer is
/// copied into one outgoing buffer, written and flushed once per read batch: the way
/// karokar-server writes its replies, so the two differ by what they do per call, not by how
/// they use the socket.
final class EchoServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var buffered: ByteBuffer?
    private var outbound = ByteBuffer()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffered == nil { buffered = incoming } else { buffered!.writeBuffer(&incoming) }
        while let frame = buffered!.readLengthPrefixedFrame() {
            outbound.writeImmutableBuffer(frame)
        }
        if buffered!.readableBytes == 0 { buffered = nil }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if outbound.readableBytes > 0 {
            context.write(wrapOutboundOut(outbound), promise: nil)
            context.flush()
            outbound.clear()  // written out by the flush: the storage is this buffer's alone again
        }
    }
}

extension ByteBuffer {
    /// The next whole frame, length prefix included, or nil when incomplete.
    mutating func readLengthPrefixedFrame() -> ByteBuffer? {
        guard let length = getInteger(at: readerIndex, as: UInt32.self), readableBytes >= 4 + Int(length) else { return nil }
        return readSlice(length: 4 + Int(length))
    }

    /// Moves past the next whole frame; false when it is incomplete.
    mutating func skipLengthPrefixedFrame() -> Bool {
        guard let length = getInteger(at: readerIndex, as: UInt32.self), readableBytes >= 4 + Int(length) else { return false }
        moveReaderIndex(forwardBy: 4 + Int(length))
        return true
    }
}
