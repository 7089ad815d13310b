public import KaroKarRPC
public import Logging
public import NIOCore
import NIOConcurrencyHelpers
import NIOPosix
public import NIOSSL

/// The RPC server: accepts TCP connections on one address and serves the registered services.
///
/// Lifecycle: ``start()``, then ``drain()`` (stop accepting, let every connection finish its calls,
/// close) or ``close()``. Safe to call from any task.
public final class RPCServer: Sendable {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 7420
        public var serverName = "karokar-server"
        public var limits = ServerLimits()
        public var services: [RPCServiceDefinition] = []
        public var interceptors: [any ServerInterceptor] = []
        /// Start each call's task on its connection's event loop (`Task.immediate`): decoding,
        /// interceptors and a handler run there until their first suspension, so a call that never
        /// suspends (a refused request, say) costs no thread hop; a handler that calls an actor
        /// or does I/O continues on the global executor from that `await` on. Turn it off for
        /// handlers that compute for long before their first suspension: that would hold up the
        /// other connections of the loop.
        ///
        /// Immediate handlers (``RPCRoute/init(_:immediateHandler:)``: Echo, Health, Reflection,
        /// WhoAmI) are not affected: they are declared short and synchronous, and are always
        /// answered on the event loop, without a task, when the interceptors admit the call on
        /// the spot (``ServerInterceptor/admitNow(context:)``).
        public var startsCallsOnEventLoop = true
        /// Gives a status to a handler error that carries none (neither an ``RPCError`` nor
        /// ``RPCErrorConvertible``): the composition root installs the mapping of the errors of
        /// the layers below the handlers (the database's: an outage is UNAVAILABLE), which this
        /// module does not know. Nil, or a nil answer, is INTERNAL.
        public var errorTranslation: (@Sendable (any Error) -> RPCError?)?
        /// The server's metrics (``RPCServerMetrics``); nil measures nothing.
        public var metrics: RPCServerMetrics?
        /// Called once per call answered by a handler (not for refusals before one was chosen),
        /// on the thread that answered it: keep it short (the access log).
        public var callCompleted: (@Sendable (CompletedCall) -> Void)?
        /// TLS on every connection (``RPCTLS/serverContext(certificateChain:privateKey:passphrase:clientCA:)``);
        /// nil: plain TCP. With mutual TLS, the client certificate's identity is in each call's
        /// logger (`rpc.tls.client`) and ``ServerCallContext/clientCertificate``.
        public var tls: NIOSSLContext?
        /// Server spans continuing the callers' W3C traces (``RPCServerTracing``); nil: none
        /// (the default; then the only cost is one check per call).
        public var tracing: RPCServerTracing?

        public init() {}
    }

    private struct State {
        var serverChannel: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var draining = false
        /// One per event loop that has had a connection, by loop.
        var sweepers: [ObjectIdentifier: NIOLoopBound<ConnectionSweeper>] = [:]
    }

    public let configuration: Configuration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let dispatcher: CallDispatcher
    private let state = NIOLockedValueBox(State())

    public init(configuration: Configuration, group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        self.dispatcher = CallDispatcher(
            services: configuration.services, interceptors: configuration.interceptors,
            limits: configuration.limits, logger: logger, errorTranslation: configuration.errorTranslation,
            metrics: configuration.metrics, callCompleted: configuration.callCompleted, tracing: configuration.tracing
        )
    }

    /// Binds and starts accepting; returns the bound address (useful with port 0).
    @discardableResult
    public func start() async throws -> SocketAddress {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelOption(.writeBufferWaterMark, value: ChannelOptions.Types.WriteBufferWaterMark(
                low: configuration.limits.outboundLowWaterBytes, high: configuration.limits.outboundHighWaterBytes
            ))
            .childChannelInitializer { [self] channel in
                admit(channel)
            }
        let channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        state.withLockedValue { $0.serverChannel = channel }
        let address = channel.localAddress!
        logger.info("listening", metadata: ["address": "\(address)"])
        return address
    }

    /// Number of open connections.
    public var connectionCount: Int {
        state.withLockedValue { $0.connections.count }
    }

    /// What each open connection holds in memory, read on its event loop: for tests of the bounds.
    package func connectionBuffers() async -> [ConnectionBuffers] {
        let connections = state.withLockedValue { Array($0.connections.values) }
        var buffers: [ConnectionBuffers] = []
        for channel in connections {
            let read = channel.eventLoop.submit {
                try channel.pipeline.syncOperations.handler(type: ServerConnectionHandler.self).buffers
            }
            if let connection = try? await read.get() { buffers.append(connection) }
        }
        return buffers
    }

    private func admit(_ channel: any Channel) -> EventLoopFuture<Void> {
        let id = ObjectIdentifier(channel)
        let admitted = state.withLockedValue { state -> Bool in
            guard !state.draining, state.connections.count < configuration.limits.maximumConnections else { return false }
            state.connections[id] = channel
            return true
        }
        guard admitted else {
            logger.warning("refusing connection", metadata: ["reason": "connection limit or draining"])
            return channel.close()
        }
        let sweeper = sweeper(for: channel.eventLoop)
        let metrics = configuration.metrics
        metrics?.connectionsOpened.increment()
        metrics?.connections.increment()
        channel.closeFuture.whenComplete { [state] _ in
            state.withLockedValue { _ = $0.connections.removeValue(forKey: id) }
            metrics?.connections.decrement()
        }
        return channel.eventLoop.makeCompletedFuture {
            if let tls = configuration.tls {
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
            }
            try channel.pipeline.syncOperations.addHandler(
                ServerConnectionHandler(
                    dispatcher: dispatcher, serverName: configuration.serverName, sweeper: sweeper,
                    startsCallsOnEventLoop: configuration.startsCallsOnEventLoop
                )
            )
        }
    }

    /// The timeout checker of `loop`'s connections, made on first use. Called on `loop`.
    private func sweeper(for loop: any EventLoop) -> ConnectionSweeper {
        let id = ObjectIdentifier(loop)
        return state.withLockedValue { state in
            if let sweeper = state.sweepers[id] { return sweeper }
            let sweeper = NIOLoopBound(ConnectionSweeper(loop: loop, limits: configuration.limits), eventLoop: loop)
            state.sweepers[id] = sweeper
            return sweeper
        }.value
    }

    /// Graceful shutdown: stop accepting, send DRAIN on every connection, wait for in-flight calls
    /// (at most the drain timeout), then close what is left.
    public func drain() async {
        let (server, connections) = state.withLockedValue { state in
            state.draining = true
            return (state.serverChannel, Array(state.connections.values))
        }
        logger.info("draining", metadata: ["connections": "\(connections.count)"])
        try? await server?.close()
        for connection in connections {
            connection.pipeline.fireUserInboundEventTriggered(ServerDrainEvent())
        }
        let deadline = ContinuousClock.now + configuration.limits.drainTimeout
        while connectionCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        await close()
    }

    /// Closes the listener and every connection at once.
    public func close() async {
        let (server, connections) = state.withLockedValue { state in
            state.draining = true
            return (state.serverChannel, Array(state.connections.values))
        }
        try? await server?.close()
        let closing = connections.map { $0.close() }  // all at once, then wait for each
        for closed in closing {
            try? await closed.get()
        }
    }
}
