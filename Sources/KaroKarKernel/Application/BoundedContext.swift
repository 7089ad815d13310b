public import KaroKarPostgres
public import KaroKarRPC
public import Logging

/// What every bounded context gets from the composition root: the shared pool and event bus,
/// the clock, the page-token sealer, a logger.
public struct ContextEnvironment: Sendable {
    public let bus: EventBus
    public let pages: PageTokens
    public let logger: Logger

    public init(bus: EventBus, pages: PageTokens, logger: Logger) {
        self.bus = bus
        self.pages = pages
        self.logger = logger
    }

    public var pool: PostgresPool { bus.pool }
    public var clock: any WallClock { bus.clock }

    /// This environment with the logger tagged `context: name`.
    public func named(_ name: String) -> ContextEnvironment {
        var logger = logger
        logger[metadataKey: "context"] = .string(name)
        return ContextEnvironment(bus: bus, pages: pages, logger: logger)
    }
}

/// A bounded context as the composition root sees it: one front door per context, wired the
/// same way for all (Sources/README.md). The conforming type is the context's actor, which owns
/// its use cases; it subscribes its event reactions when it is made.
public protocol BoundedContext: Sendable {
    /// The context's schema migrations, in order (its own schema only).
    static var migrations: [Migration] { get }
    /// The RPC services it serves (its RPC layer's handlers, which call this actor).
    var services: [RPCServiceDefinition] { get }
    /// Interceptors it contributes to every call of the server (Identity: authorization).
    var interceptors: [any ServerInterceptor] { get }
    /// Start-up work, before the server accepts calls (keys, bootstrap data). A throw stops the
    /// server from starting.
    func start() async throws
    /// Background work (sweeps, listeners), until the task is cancelled.
    func runBackgroundWork() async
}

extension BoundedContext {
    public var interceptors: [any ServerInterceptor] { [] }
    public func start() async throws {}
    public func runBackgroundWork() async {}
}

/// Secrets all server processes of one database share (`karokar_kernel.secret`).
public enum ServerSecrets {
    /// The secret `name`: made by the first process that asks (from `candidate`), read by the others.
    public static func shared(_ name: String, candidate: [UInt8], pool: PostgresPool) async throws -> [UInt8] {
        try await pool.query("""
            INSERT INTO karokar_kernel.secret (name, value) VALUES (\(name), \(PostgresBytes(candidate))::bytea)
            ON CONFLICT (name) DO NOTHING
            """)
        return try await pool.query("SELECT value FROM karokar_kernel.secret WHERE name = \(name)").single()
            .decode(PostgresBytes.self, "value").bytes
    }

    /// Installs this database's page-token secret in `pages` (made by the first process).
    public static func installPageTokenSecret(in pages: PageTokens, pool: PostgresPool) async throws {
        pages.install(secret: try await shared("page-tokens", candidate: PageTokens.randomSecret(), pool: pool))
    }
}
