public import KaroKarKernel
public import KaroKarPostgres
public import KaroKarRPC
import KaroKarMessages
import KaroKarServices
import Logging

/// The Identity context's front door (DOMAIN.md section 4): organizations, users, memberships,
/// roles, login and tokens, service accounts, one use case per verb
/// (`Application/Identity+*.swift`), and the interceptor that authenticates and authorizes every
/// call of the server. It holds only immutable dependencies (the token authority and the
/// principal cache lock their own state), so its use cases are `nonisolated`. It reacts,
/// in-transaction, to Administration's decisions. See the README next to this file for its rules.
public actor Identity: BoundedContext {
    public static let migrations: [Migration] = IdentityMigrations.all

    nonisolated let environment: ContextEnvironment
    nonisolated let configuration: IdentityConfiguration
    /// Hashes passwords on threads of its own.
    nonisolated let hasher: PasswordHasher
    /// Per-client-address rate limits of the costly public calls.
    nonisolated let limits: ClientLimits
    nonisolated let authority: TokenAuthority
    nonisolated let cache: PrincipalCache
    nonisolated let changes: AccessChangeListener

    /// Builds the context on `environment` and subscribes its in-transaction reactions
    /// (Administration's decisions). Call before the server serves.
    public init(environment: ContextEnvironment, configuration: IdentityConfiguration) {
        let environment = environment.named("identity")
        self.environment = environment
        self.configuration = configuration
        hasher = PasswordHasher(parameters: configuration.scrypt, threads: configuration.passwordHashThreads, capacity: configuration.hashingCapacity)
        limits = ClientLimits(configuration, clock: environment.clock)
        authority = TokenAuthority(accessTokenLifetime: configuration.accessTokenLifetime, clock: environment.clock)
        let cache = PrincipalCache(timeToLive: configuration.principalCacheLifetime)
        self.cache = cache
        changes = AccessChangeListener(connectionString: environment.pool.configuration.connectionString, logger: environment.logger) {
            cache.invalidateAll()
        }
        IdentityReactions.subscribe(self, to: environment.bus)
    }

    nonisolated var bus: EventBus { environment.bus }
    nonisolated var logger: Logger { environment.logger }

    /// `karokar.identity.v1.IdentityService`; WhoAmI answers on the event loop from the bytes the
    /// caller's verified credential encoded once.
    public nonisolated var services: [RPCServiceDefinition] {
        let handler = IdentityHandler(identity: self)
        return [
            handler.serviceDefinition().replacing(RPCRoute(IdentityV1.IdentityService.Method.whoAmI, immediateEncodedHandler: handler.encodedWhoAmI))
        ]
    }

    /// Install first: every other interceptor and handler relies on ``ServerCallContext/caller``.
    public nonisolated var interceptors: [any ServerInterceptor] {
        [AuthorizationInterceptor(authority: authority, cache: cache) { [self] claims in try await principal(for: claims) }]
    }

    /// Starts listening for other processes' access changes, installs the token signing key and,
    /// on the first start, creates the platform organization and its administrator. Fails (the
    /// server must not start) in production mode without a configured key or bootstrap password,
    /// or with a weak password.
    public nonisolated func start() async throws {
        await changes.start()
        try await Bootstrap.run(self)
    }

    /// Listens for access changes made by other server processes until the task is cancelled,
    /// then releases the password-hashing threads.
    public nonisolated func runBackgroundWork() async {
        await changes.run()
        await hasher.shutdown()
    }
}
