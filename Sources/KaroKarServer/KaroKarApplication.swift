public import Logging
public import KaroKarKernel
public import KaroKarPostgres
import KaroKarRPC
public import KaroKarRPCServer
public import NIOCore
import KaroKarMessages
import KaroKarServices

/// The composition root: builds the server from settings. The executable and the tests both use it.
///
/// With a database pool it hosts the bounded contexts and runs the event relay; without one (RPC
/// runtime tests) only the built-in services.
public struct KaroKarApplication: Sendable {
    public let server: RPCServer
    public let health: HealthService
    public let bus: EventBus?
    public let relay: EventRelay?
    /// The page-token sealer every context shares; its database-wide secret is installed at start.
    let pages: PageTokens
    private let contexts: ComposedContexts

    /// With a pool: the bounded contexts on an event bus whose clock is `clock`.
    public init(
        settings: ServerSettings, pool: PostgresPool? = nil, clock: any WallClock = SystemClock(), group: any EventLoopGroup, logger: Logger
    ) {
        let pages = PageTokens()
        var contexts = ComposedContexts()
        var definitions = [DiagnosticsService().definition]
        if let pool {
            let bus = EventBus(pool: pool, clock: clock)
            contexts = ComposedContexts.compose(ContextEnvironment(bus: bus, pages: pages, logger: logger), settings: settings)
            definitions += contexts.services(executor: pool.executor)
            var operations = EventOperationsHandler(bus: bus).serviceDefinition()
            operations.executor = pool.executor
            definitions.append(operations)
            self.bus = bus
            self.relay = EventRelay(bus: bus, options: settings.events, logger: logger)
        } else {
            self.bus = nil
            self.relay = nil
        }
        let serviceNames = [RPCV1.HealthService.descriptor.name, RPCV1.ReflectionService.descriptor.name] + definitions.map(\.descriptor.name)
        let health = HealthService(services: serviceNames)
        definitions.append(health.definition)
        let reflectionPlaceholder = ReflectionService(definitions: [], limits: settings.limits)
        let listed = definitions + [reflectionPlaceholder.serviceDefinition()]
        definitions.append(ReflectionService(definitions: listed, limits: settings.limits).definition)

        var configuration = RPCServer.Configuration()
        configuration.host = settings.host
        configuration.port = settings.port
        configuration.limits = settings.limits
        configuration.services = definitions
        configuration.interceptors = contexts.interceptors
        configuration.errorTranslation = InfrastructureErrors.translate
        self.server = RPCServer(configuration: configuration, group: group, logger: logger)
        self.health = health
        self.pages = pages
        self.contexts = contexts
    }

    /// Runs the start-up work (the shared page-token secret, then each context's: signing keys,
    /// the platform bootstrap), then starts serving. A failure here means the server must not
    /// serve: it is thrown before the listener opens.
    @discardableResult
    public func start() async throws -> SocketAddress {
        if let bus { try await ServerSecrets.installPageTokenSecret(in: pages, pool: bus.pool) }
        for context in contexts.contexts { try await context.start() }
        return try await server.start()
    }

    /// Graceful shutdown (Protos/PROTOCOL.md, section 13.1): reports NOT_SERVING, keeps serving for
    /// the drain delay so that health checkers see it and stop sending work, then drains the server.
    public func drain() async {
        health.markNotServing()
        let delay = server.configuration.limits.drainDelay
        if delay > .zero { try? await Task.sleep(for: delay) }
        await server.drain()
    }

    /// Runs the background work (the event relay, the contexts' listeners and sweeps) until the task is cancelled.
    public func runBackgroundWork() async {
        await withTaskGroup(of: Void.self) { group in
            if let relay { group.addTask { await relay.run() } }
            for context in contexts.contexts { group.addTask { await context.runBackgroundWork() } }
        }
    }
}
