public import Logging
public import NIOCore
import NIOConcurrencyHelpers
import NIOHTTP1
import NIOPosix

/// The admin HTTP server: `GET /livez`, `GET /readyz`, `GET /metrics` for load balancers and
/// Prometheus (README, "Operations"). Off unless `admin-port` is set; loopback by default.
///
/// Small on purpose: HTTP/1.1, GET (and HEAD) only, no request body, a 2 KiB target, one response
/// per connection (`connection: close`), at most ``maximumConnections`` at once, at most
/// ``maximumRequestBytes`` read from a connection, and every connection is closed
/// ``requestTimeout`` after it opened, whatever the peer does.
public final class AdminServer: Sendable {
    /// The answers, computed per request.
    public struct Routes: Sendable {
        /// `/readyz`: nil when ready, else why not.
        public var notReadyReason: @Sendable () -> String?
        /// `/metrics`: the exposition text, or nil when metrics are off (404).
        public var metrics: (@Sendable () -> [UInt8])?

        public init(notReadyReason: @escaping @Sendable () -> String?, metrics: (@Sendable () -> [UInt8])?) {
            self.notReadyReason = notReadyReason
            self.metrics = metrics
        }
    }

    static let maximumConnections = 64
    static let maximumTargetBytes = 2048
    static let maximumHeaderBytes = 16 * 1024
    static let maximumRequestBytes = 32 * 1024
    static let requestTimeout = TimeAmount.seconds(10)

    let host: String
    let port: Int
    let routes: Routes
    let group: any EventLoopGroup
    let logger: Logger
    private let state = NIOLockedValueBox(State())

    private struct State {
        var channel: (any Channel)?
        var connections = 0
    }

    public init(host: String, port: Int, routes: Routes, group: any EventLoopGroup, logger: Logger) {
        self.host = host
        self.port = port
        self.routes = routes
        self.group = group
        self.logger = logger
    }

    /// Binds; returns the bound address (useful with port 0).
    @discardableResult
    public func start() async throws -> SocketAddress {
        let routes = self.routes
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                let admitted = state.withLockedValue { state -> Bool in
                    guard state.connections < Self.maximumConnections else { return false }
                    state.connections += 1
                    return true
                }
                guard admitted else { return channel.close() }
                channel.closeFuture.whenComplete { [state] _ in state.withLockedValue { $0.connections -= 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(AdminConnectionLimits())
                    try sync.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: true)
                    try sync.addHandler(AdminRequestHandler(routes: routes))
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        state.withLockedValue { $0.channel = channel }
        let address = channel.localAddress!
        logger.info("admin server listening", metadata: ["admin-address": "\(address)"])
        return address
    }

    public func close() async {
        let channel = state.withLockedValue { $0.channel }
        try? await channel?.close()
    }
}

/// Answers one request, then closes the connection.
final class AdminRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let routes: AdminServer.Routes
    private var head: HTTPRequestHead?
    private var refused: (HTTPResponseStatus, String)?
    private var answered = false

    init(routes: AdminServer.Routes) {
        self.routes = routes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
            let headerBytes = request.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
            if request.uri.utf8.count > AdminServer.maximumTargetBytes {
                refused = (.uriTooLong, "request target too long\n")
            } else if headerBytes > AdminServer.maximumHeaderBytes {
                refused = (.requestHeaderFieldsTooLarge, "headers too large\n")
            } else if request.method != .GET && request.method != .HEAD {
                refused = (.methodNotAllowed, "only GET\n")
            }
        case .body:
            // Nothing here takes a body: answer at once rather than read it.
            refused = (.payloadTooLarge, "no request body is accepted\n")
            respond(context: context)
        case .end:
            respond(context: context)
        }
    }

    private func respond(context: ChannelHandlerContext) {
        guard !answered, let head else { return }
        answered = true
        let (status, contentType, body) = answer(head)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: contentType)
        headers.add(name: "content-length", value: "\(body.count)")
        headers.add(name: "connection", value: "close")
        headers.add(name: "cache-control", value: "no-store")
        if status == .methodNotAllowed { headers.add(name: "allow", value: "GET, HEAD") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func answer(_ head: HTTPRequestHead) -> (HTTPResponseStatus, String, [UInt8]) {
        let text = "text/plain; charset=utf-8"
        if let (status, message) = refused { return (status, text, Array(message.utf8)) }
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        switch path {
        case "/livez":
            return (.ok, text, Array("ok\n".utf8))
        case "/readyz":
            if let reason = routes.notReadyReason() { return (.serviceUnavailable, text, Array("not ready: \(reason)\n".utf8)) }
            return (.ok, text, Array("ready\n".utf8))
        case "/metrics":
            guard let metrics = routes.metrics else { return (.notFound, text, Array("metrics are off\n".utf8)) }
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", metrics())
        default:
            return (.notFound, text, Array("not found; try /livez, /readyz or /metrics\n".utf8))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Bounds what one admin connection costs: bytes read (a request is small; past
/// ``AdminServer/maximumRequestBytes`` the connection is closed) and time (closed
/// ``AdminServer/requestTimeout`` after it opened).
final class AdminConnectionLimits: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var received = 0
    private var timeout: Scheduled<Void>?

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        timeout = context.eventLoop.scheduleTask(in: AdminServer.requestTimeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeout?.cancel()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += unwrapInboundIn(data).readableBytes
        guard received <= AdminServer.maximumRequestBytes else {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
    }
}
