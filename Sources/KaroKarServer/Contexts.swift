import KaroKarKernel
import KaroKarPostgres
import KaroKarRPC
import Logging

/// The bounded contexts this server hosts, composed on the shared kernel: the only place that
/// knows them all. Each context contributes its service definitions, interceptors and migrations;
/// contexts never know each other (they meet on the event bus).
struct ComposedContexts {
    var services: [RPCServiceDefinition] = []
    /// Run in this order around every call (authentication first).
    var interceptors: [any ServerInterceptor] = []

    /// Every migration: the kernel's first, then each context's, in dependency order.
    static let migrations: [Migration] = KernelMigrations.platform

    static func compose(bus: EventBus, settings: ServerSettings, logger: Logger) -> ComposedContexts {
        ComposedContexts()
    }
}
