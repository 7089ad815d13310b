public import KaroKarKernel
public import KaroKarPostgres
public import KaroKarRPC
import KaroKarMessages
import KaroKarServices
public import Logging

/// The Identity context as the composition root sees it: its service, the interceptor that
/// authenticates and authorizes every call of the server, its migrations, and its start-up and
/// background work. See the README next to this file for its rules.
public struct IdentityContext: Sendable {
    public static let migrations: [Migration] = IdentityMigrations.all

    /// `karokar.identity.v1.IdentityService`.
    public let services: [RPCServiceDefinition]
    /// Install first: every other interceptor and handler relies on ``ServerCallContext/caller``.
    public let interceptor: AuthorizationInterceptor
    private let service: IdentityService
    private let changes: AccessChangeListener

    /// Builds the context on `bus` and subscribes its in-transaction reactions (Administration's
    /// decisions). Call before the server serves.
    public init(bus: EventBus, configuration: IdentityConfiguration, logger: Logger) {
        var logger = logger
        logger[metadataKey: "context"] = "identity"
        let service = IdentityService(bus: bus, configuration: configuration, logger: logger)
        self.service = service
        let handler = IdentityHandler(service: service)
        services = [
            handler.serviceDefinition().replacing(RPCRoute(IdentityV1.IdentityService.Method.whoAmI, immediateEncodedHandler: handler.encodedWhoAmI))
        ]
        interceptor = AuthorizationInterceptor(authority: service.authority, cache: service.cache, pool: bus.pool)
        changes = AccessChangeListener(connectionString: bus.pool.configuration.connectionString, cache: service.cache, logger: logger)
        IdentityReactions.subscribe(service, to: bus)
    }

    /// Installs the token signing key and, on the first start, creates the platform organization
    /// and its administrator. Fails (the server must not start) in production mode without a
    /// configured key or bootstrap password, or with a weak password.
    public func start() async throws {
        await changes.start()
        try await Bootstrap.run(service)
    }

    /// Listens for access changes made by other server processes until the task is cancelled,
    /// then releases the password-hashing threads.
    public func runBackgroundWork() async {
        await changes.run()
        await service.hasher.shutdown()
    }
}
