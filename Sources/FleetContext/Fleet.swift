public import KaroKarKernel
public import KaroKarPostgres
public import KaroKarRPC
import KaroKarServices

/// The Fleet context's front door (DOMAIN.md section 5): vehicles, their lifecycle and the
/// availability engine, one use case per verb (`Application/Fleet+*.swift`). It holds no business
/// state (the database is the source of truth), so its use cases are `nonisolated`. It
/// subscribes, in-transaction, to organization, moderation, verification and booking events
/// (`Application/FleetReactions*.swift`). See the README next to this file for its rules.
public actor Fleet: BoundedContext {
    public static let migrations: [Migration] = FleetMigrations.all

    nonisolated let environment: ContextEnvironment
    nonisolated let options: FleetOptions

    public init(environment: ContextEnvironment, options: FleetOptions = FleetOptions()) {
        self.environment = environment.named("fleet")
        self.options = options
        subscribeReactions(to: environment.bus)
    }

    nonisolated var bus: EventBus { environment.bus }

    /// `karokar.fleet.v1.FleetService` and `karokar.fleet.v1.AvailabilityService`.
    public nonisolated var services: [RPCServiceDefinition] {
        [FleetHandler(fleet: self).serviceDefinition(), AvailabilityHandler(fleet: self).serviceDefinition()]
    }

    /// The periodic document expiry sweep (``FleetOptions/documentSweepInterval``), until cancelled.
    public nonisolated func runBackgroundWork() async {
        guard let interval = options.documentSweepInterval else { return }
        await sweepPeriodically(every: interval)
    }
}

/// Fleet's settings (from the server's configuration).
public struct FleetOptions: Sendable {
    /// DOMAIN.md: activation needs approved, unexpired verifications of the vehicle's registration,
    /// insurance and fitness certificate (Fleet learns them from `verification.*` events, in
    /// the Verification context's transactions). On by default; off only for development.
    public var activationRequiresVerification = true
    /// How often the document expiry sweep runs; nil: never by itself.
    public var documentSweepInterval: Duration? = .seconds(24 * 3600)

    public init() {}
}
