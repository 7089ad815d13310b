public import KaroKarKernel
public import KaroKarPostgres
public import KaroKarRPC
import KaroKarServices
public import Logging

/// The Administration context as the composition root sees it: its service and migrations.
/// It subscribes, in-transaction, to `organization.registered` (its read model and the `PENDING`
/// approval). See the README next to this file for its rules.
public struct AdministrationContext: Sendable {
    public static let migrations: [Migration] = AdministrationMigrations.all

    /// `karokar.administration.v1.AdministrationService`.
    public let services: [RPCServiceDefinition]

    public init(bus: EventBus, logger: Logger) {
        var logger = logger
        logger[metadataKey: "context"] = "administration"
        let service = AdministrationService(bus: bus, logger: logger)
        services = [AdministrationHandler(service: service).serviceDefinition()]
        AdministrationReactions.subscribe(to: bus)
    }
}
