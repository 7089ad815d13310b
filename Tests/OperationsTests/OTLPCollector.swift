import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import KaroKarTestSupport

/// A real HTTP/1.1 server on loopback standing in for an OpenTelemetry collector: it keeps every
/// request's method, path, content type and body, and answers each with `status` (200 unless a
/// test wants the collector to refuse).
final class OTLPCollector: Sendable {
    struct Request: Sendable {
        let method: String
        let path: String
        let contentType: String?
        let body: [UInt8]
    }

    private let channel: any Channel
    private let received = NIOLockedValueBox<[Request]>([])
    let status: HTTPResponseStatus

    var port: Int { channel.localAddress!.port! }
    var endpoint: String { "http://127.0.0.1:\(port)" }
    var requests: [Request] { received.withLockedValue { $0 } }

    private init(channel: any Channel, status: HTTPResponseStatus) {
        self.channel = channel
        self.status = status
    }

    static func start(status: HTTPResponseStatus = .ok) async throws -> OTLPCollector {
        let box = NIOLockedValueBox<OTLPCollector?>(nil)
        let channel = try await ServerBootstrap(group: TestServer.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(record: { request in box.withLockedValue { $0 }?.received.withLockedValue { $0.append(request) } }, status: status))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let collector = OTLPCollector(channel: channel, status: status)
        box.withLockedValue { $0 = collector }
        return collector
    }

    func stop() async {
        try? await channel.close()
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let record: @Sendable (Request) -> Void
        let status: HTTPResponseStatus
        var head: HTTPRequestHead?
        var body: [UInt8] = []

        init(record: @escaping @Sendable (Request) -> Void, status: HTTPResponseStatus) {
            self.record = record
            self.status = status
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = []
            case .body(var buffer):
                body += buffer.readBytes(length: buffer.readableBytes) ?? []
            case .end:
                guard let head else { return }
                record(Request(method: "\(head.method)", path: head.uri, contentType: head.headers.first(name: "content-type"), body: body))
                var headers = HTTPHeaders()
                headers.add(name: "content-type", value: "application/json")
                headers.add(name: "content-length", value: "2")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: "{}")))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                self.head = nil
            }
        }
    }
}
