import AdministrationContext
import FleetContext
import IdentityContext
import KaroKarKernel
import KaroKarPostgres
import KaroKarRPC
import Logging

/// The bounded contexts this server hosts, composed on the shared kernel: the only place that
/// knows them all. Each context contributes its service definitions, interceptors, migrations,
/// start-up steps and background work; contexts never know each other (they meet on the event bus).
struct ComposedContexts: Sendable {
    var services: [RPCServiceDefinition] = []
    /// Run in this order around every call (authentication first).
    var interceptors: [any ServerInterceptor] = []
    /// Run once, in order, before the server accepts calls (signing keys, bootstrap data).
    var startup: [@Sendable () async throws -> Void] = []
    /// Run until cancelled, next to the event relay (periodic sweeps, cache invalidation).
    var background: [@Sendable () async -> Void] = []

    /// Every migration: the kernel's first, then each context's, in dependency order.
    static let migrations: [Migration] = KernelMigrations.platform + IdentityContext.migrations + AdministrationContext.migrations
        + FleetMigrations.all

    static func compose(bus: EventBus, settings: ServerSettings, logger: Logger) -> ComposedContexts {
        let identity = IdentityContext(bus: bus, configuration: settings.identity, logger: logger)
        let administration = AdministrationContext(bus: bus, logger: logger)
        let fleet = Fleet(bus: bus, options: settings.fleet, logger: logger)
        // Context calls are database-bound: they run on the pool's I/O executor after their first
        // suspension (see RPCServiceDefinition.executor); the built-in services stay on the global one.
        let services = (identity.services + administration.services + fleet.services).map { service in
            var service = service
            service.executor = bus.pool.executor
            return service
        }
        return ComposedContexts(
            services: services,
            interceptors: [identity.interceptor],
            startup: [identity.start],
            background: [identity.runBackgroundWork, { await fleet.runBackgroundJobs() }]
        )
    }
}
