public import KaroKarKernel
public import KaroKarPostgres
public import KaroKarRPC
import KaroKarServices
import Logging

/// The Administration context's front door (DOMAIN.md section 11): onboarding decisions,
/// moderation and the dashboard, one use case per verb (`Application/Administration+*.swift`).
/// It holds no business state (the database is the source of truth), so its use cases are
/// `nonisolated`. It subscribes, in-transaction, to `organization.registered` (its read model and
/// the `PENDING` approval). See the README next to this file for its rules.
public actor Administration: BoundedContext {
    public static let migrations: [Migration] = AdministrationMigrations.all

    nonisolated let environment: ContextEnvironment

    public init(environment: ContextEnvironment) {
        self.environment = environment.named("administration")
        AdministrationReactions.subscribe(to: environment.bus)
    }

    nonisolated var bus: EventBus { environment.bus }

    /// `karokar.administration.v1.AdministrationService`.
    public nonisolated var services: [RPCServiceDefinition] {
        [AdministrationHandler(administration: self).serviceDefinition()]
    }
}
