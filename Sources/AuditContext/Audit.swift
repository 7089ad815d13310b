public import KaroKarKernel
public import KaroKarPostgres
public import KaroKarRPC
import KaroKarServices
import Logging

/// The Audit context's front door (DOMAIN.md section 10): one immutable, hash-chained record per
/// event of every type, and the reads over them (queries, the chain's verification, the
/// completeness check). It holds no state of its own (the database is the source of truth), so
/// its use cases are `nonisolated`. It subscribes one after-commit consumer, `audit`, to `*`
/// from the beginning of the outbox. See the README next to this file for its rules.
public actor Audit: BoundedContext {
    public static let migrations: [Migration] = AuditMigrations.all

    nonisolated let environment: ContextEnvironment

    public init(environment: ContextEnvironment) {
        self.environment = environment.named("audit")
        AuditRecording.subscribe(to: environment.bus)
    }

    nonisolated var bus: EventBus { environment.bus }

    /// `karokar.audit.v1.AuditService`.
    public nonisolated var services: [RPCServiceDefinition] {
        [AuditHandler(audit: self).serviceDefinition()]
    }
}
