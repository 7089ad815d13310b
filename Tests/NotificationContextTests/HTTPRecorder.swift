import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A real HTTP server on loopback that plays the SMS and push endpoints: each request is
/// recorded, and answered by the next scripted behaviour (then by the default one). Not a mock of
/// the client: the sender's HTTP client talks to it over TCP.
final class HTTPRecorder: Sendable {
    struct Behaviour: Sendable {
        var status: HTTPResponseStatus = .ok
        var body: String
        /// Wait this long before answering (longer than the client's timeout: a slow provider).
        var delay: TimeAmount? = nil

        static let accept = Behaviour(body: "{\"accepted\": true}")

        static func failure(_ status: HTTPResponseStatus) -> Behaviour { Behaviour(status: status, body: "{\"error\": \"down\"}") }
    }

    struct Request: Sendable {
        var method: HTTPMethod
        var uri: String
        var headers: HTTPHeaders
        var body: [UInt8]
        var receivedAt: NIODeadline
    }

    private struct State {
        var script: [Behaviour] = []
        var fallback: Behaviour = .accept
        var requests: [Request] = []
    }

    private let state = NIOLockedValueBox(State())
    private let channel: NIOLockedValueBox<(any Channel)?> = NIOLockedValueBox(nil)

    init(script: [Behaviour] = [], fallback: Behaviour = .accept) {
        state.withLockedValue { $0 = State(script: script, fallback: fallback) }
    }

    /// Listens on a free loopback port.
    func start() async throws -> Int {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(RecorderHandler(stub: self))
                }
            }
        let server = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        channel.withLockedValue { $0 = server }
        return server.localAddress!.port!
    }

    func stop() async {
        try? await channel.withLockedValue { $0 }?.close()
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(channel.withLockedValue { $0 }?.localAddress?.port ?? 0)/\(path)" }
    var requests: [Request] { state.withLockedValue { $0.requests } }

    func answer(_ fallback: Behaviour) {
        state.withLockedValue { $0.fallback = fallback }
    }

    fileprivate func record(_ request: Request) -> Behaviour {
        state.withLockedValue { state in
            state.requests.append(request)
            return state.script.isEmpty ? state.fallback : state.script.removeFirst()
        }
    }
}

private final class RecorderHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let stub: HTTPRecorder
    var head: HTTPRequestHead?
    var body: [UInt8] = []

    init(stub: HTTPRecorder) {
        self.stub = stub
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
        case .body(let buffer):
            body += Array(buffer: buffer)
        case .end:
            guard let head else { return }
            let behaviour = stub.record(HTTPRecorder.Request(
                method: head.method, uri: head.uri, headers: head.headers, body: body, receivedAt: .now()
            ))
            if let delay = behaviour.delay {
                context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in self.respond(behaviour, context: context) }
            } else {
                respond(behaviour, context: context)
            }
        }
    }

    private func respond(_ behaviour: HTTPRecorder.Behaviour, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders([("content-type", "application/json"), ("content-length", "\(behaviour.body.utf8.count)")])
        headers.add(name: "connection", value: "keep-alive")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: behaviour.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: behaviour.body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
