public import Logging
public import KaroKarKernel
public import KaroKarPostgres
import KaroKarRPC
public import KaroKarRPCServer
public import NIOCore
import KaroKarMessages
import KaroKarServices
import IdentityContext
public import Tracing

/// The composition root: builds the server from settings. The executable and the tests both use it.
///
/// With a database pool it hosts the bounded contexts and runs the event relay; without one (RPC
/// runtime tests) only the built-in services.
public struct KaroKarApplication: Sendable {
    public let server: RPCServer
    public let health: HealthService
    public let bus: EventBus?
    public let relay: EventRelay?
    /// The process's metrics, when the admin server publishes them (``OperationsOptions/measures``).
    public let metrics: ServerMetrics?
    let settings: ServerSettings
    let logger: Logger
    /// The page-token sealer every context shares; its database-wide secret is installed at start.
    let pages: PageTokens
    let contexts: ComposedContexts

    /// With a pool: the bounded contexts on an event bus whose clock is `clock`.
    ///
    /// `tracer`: server spans per call (README, "Tracing"); nil: the pool's tracer
    /// (``PostgresPool/Configuration/tracer``), if it has one.
    public init(
        settings: ServerSettings, pool: PostgresPool? = nil, clock: any WallClock = SystemClock(), group: any EventLoopGroup, logger: Logger,
        tracer: (any Tracer)? = nil
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
        configuration.tls = settings.tls.context
        configuration.services = definitions
        configuration.interceptors = contexts.interceptors
        configuration.errorTranslation = InfrastructureErrors.translate
        let metrics = settings.operations.measures ? ServerMetrics() : nil
        configuration.metrics = metrics?.rpc
        if settings.operations.accessLog { configuration.callCompleted = AccessLog().record }
        if let tracer = tracer ?? pool?.configuration.tracer {
            configuration.tracing = RPCServerTracing(tracer: tracer, attributes: ServerTracing.callAttributes)
        }
        self.server = RPCServer(configuration: configuration, group: group, logger: logger)
        self.metrics = metrics
        self.settings = settings
        self.logger = logger
        self.health = health
        self.pages = pages
        self.contexts = contexts
    }

    /// Runs the start-up work (the event consumers' registration, the shared page-token secret,
    /// then each context's: signing keys, the platform bootstrap), then starts serving. A failure
    /// here means the server must not serve: it is thrown before the listener opens.
    ///
    /// The consumers are registered first (the relay does it again when it runs): a log consumer
    /// new to the database starts reading from its registration (`ConsumerStart.now`), and an
    /// event this process published before it would be outside its log. (A delivery consumer
    /// never missed one: the publisher writes its delivery.)
    @discardableResult
    public func start() async throws -> SocketAddress {
        if let relay { try await relay.registerConsumers() }
        if let bus { try await ServerSecrets.installPageTokenSecret(in: pages, pool: bus.pool) }
        for context in contexts.contexts { try await context.start() }
        let address = try await server.start()
        health.markListening()
        return address
    }

    /// Graceful shutdown (Protos/PROTOCOL.md, section 13.1): reports NOT_SERVING, keeps serving for
    /// the drain delay so that health checkers see it and stop sending work, then drains the server.
    public func drain() async {
        health.markNotServing()
        let delay = server.configuration.limits.drainDelay
        if delay > .zero { try? await Task.sleep(for: delay) }
        await server.drain()
    }

    /// Runs the background work (the event relay, the contexts' listeners and sweeps, the
    /// database health probe, the metrics sampler) until the task is cancelled. The executable
    /// runs the same work as separate services (``services(database:admin:)``).
    public func runBackgroundWork() async {
        await withTaskGroup(of: Void.self) { group in
            for work in backgroundWork { group.addTask { await work.run() } }
        }
    }

    /// Why `/readyz` fails, or nil when ready.
    public var notReadyReason: String? {
        switch health.readiness {
        case .ready: nil
        case .starting: "starting"
        case .draining: "draining"
        case .databaseUnavailable: "the database does not answer"
        case .notServing: "not serving"
        }
    }

    /// The admin server's answers for this application.
    public var adminRoutes: AdminServer.Routes {
        let application = self
        let identity = contexts.contexts.lazy.compactMap { $0 as? Identity }.first
        var exposition: (@Sendable () -> [UInt8])?
        if let metrics {
            let pool = bus?.pool
            exposition = { metrics.exposition(pool: pool, identity: identity) }
        }
        return AdminServer.Routes(notReadyReason: { application.notReadyReason }, metrics: exposition)
    }

    /// One piece of background work, with the name its service has in logs.
    struct BackgroundWork: Sendable {
        let name: String
        let run: @Sendable () async -> Void
    }

    var backgroundWork: [BackgroundWork] {
        var work: [BackgroundWork] = []
        if let relay { work.append(BackgroundWork(name: "event relay") { await relay.run() }) }
        for context in contexts.contexts {
            work.append(BackgroundWork(name: "\(type(of: context)) background work") { await context.runBackgroundWork() })
        }
        if let pool = bus?.pool {
            let probe = DatabaseProbe(pool: pool, health: health, interval: settings.operations.healthCheckInterval, logger: logger)
            work.append(BackgroundWork(name: "database health probe") { await probe.run() })
            if let metrics {
                let sampler = EventMetricsSampler(pool: pool, metrics: metrics, interval: settings.operations.metricsSampleInterval, logger: logger)
                work.append(BackgroundWork(name: "event metrics sampler") { await sampler.run() })
            }
        }
        return work
    }
}
