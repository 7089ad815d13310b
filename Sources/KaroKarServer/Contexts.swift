import AdministrationContext
import AssignmentContext
import AuditContext
import BookingContext
import FleetContext
import IdentityContext
import KaroKarKernel
import KaroKarPostgres
import KaroKarRPC
import Logging
import NotificationContext
import VerificationContext

/// The bounded contexts this server hosts, composed on the shared kernel: the only place that
/// knows them all. Each context is one front door (a ``BoundedContext`` actor) made from the same
/// ``ContextEnvironment``; contexts never know each other (they meet on the event bus).
struct ComposedContexts: Sendable {
    var contexts: [any BoundedContext] = []

    /// Every migration: the kernel's first, then each context's, in dependency order.
    static let migrations: [Migration] = KernelMigrations.platform + Identity.migrations + Administration.migrations + Fleet.migrations
        + Booking.migrations + Assignment.migrations + Verification.migrations + Audit.migrations + NotificationContext.Notification.migrations

    /// Builds every context (subscribing their reactions on the bus), Identity first: its
    /// interceptor authenticates every call of the server.
    static func compose(_ environment: ContextEnvironment, settings: ServerSettings) -> ComposedContexts {
        let identity = Identity(environment: environment, configuration: settings.identity)
        let fleet = Fleet(environment: environment, options: settings.fleet)
        // Booking and Assignment learn vehicles' and members' facts through the kernel's ports,
        // which Fleet and Identity answer. Subscription order is reaction order: Fleet's
        // reservation runs before Assignment follows a booking.
        return ComposedContexts(contexts: [
            identity,
            Administration(environment: environment),
            fleet,
            Booking(environment: environment, vehicles: fleet, members: identity, options: settings.booking),
            Assignment(environment: environment, vehicles: fleet, members: identity),
            // Subjects' owners through the kernel's ports (Fleet: vehicles and documents;
            // Identity: members); Fleet reacts to its events in its transactions.
            Verification(environment: environment, vehicles: fleet, documents: fleet, members: identity, options: settings.verification),
            // Subscribes to every event after commit; depends on no context.
            Audit(environment: environment),
            // Driven by events after commit; recipients through the kernel's port (Identity).
            NotificationContext.Notification(environment: environment, recipients: identity, options: settings.notification),
        ])
    }

    /// Their services. Context calls are database-bound: they run on the pool's I/O executor
    /// after their first suspension (see RPCServiceDefinition.executor); the built-in services
    /// stay on the global one.
    func services(executor: any TaskExecutor) -> [RPCServiceDefinition] {
        contexts.flatMap(\.services).map { service in
            var service = service
            service.executor = executor
            return service
        }
    }

    /// Run in this order around every call (authentication first).
    var interceptors: [any ServerInterceptor] { contexts.flatMap(\.interceptors) }
}
