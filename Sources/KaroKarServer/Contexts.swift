import FleetContext
import KaroKarKernel
import KaroKarPostgres
import KaroKarRPC
import Logging

/// The bounded contexts this server hosts, composed on the shared kernel: the only place that
/// knows them all. Each context contributes its service definitions, interceptors, migrations
/// and background jobs; contexts never know each other (they meet on the event bus).
struct ComposedContexts: Sendable {
    var services: [RPCServiceDefinition] = []
    /// Run in this order around every call (authentication first).
    var interceptors: [any ServerInterceptor] = []
    /// Long-running work (periodic sweeps), run until cancelled.
    var backgroundJobs: [@Sendable () async -> Void] = []

    /// Every migration: the kernel's first, then each context's, in dependency order.
    static let migrations: [Migration] = KernelMigrations.platform + FleetMigrations.all

    static func compose(bus: EventBus, settings: ServerSettings, logger: Logger) -> ComposedContexts {
        var composed = ComposedContexts()
        let fleet = Fleet(bus: bus, options: settings.fleet, logger: logger)
        composed.services += fleet.services
        composed.backgroundJobs.append { await fleet.runBackgroundJobs() }
        return composed
    }
}
