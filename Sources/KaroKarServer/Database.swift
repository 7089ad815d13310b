import Foundation
public import KaroKarPostgres

public import Logging
public import Tracing

/// The server's PostgreSQL: the configured one, or a private cluster it runs itself.
public struct Database: Sendable {
    public let pool: PostgresPool
    let embedded: EmbeddedPostgres?

    /// A database the caller opened (tests; the pool is closed with ``close()``).
    public init(pool: PostgresPool) {
        self.init(pool: pool, embedded: nil)
    }

    init(pool: PostgresPool, embedded: EmbeddedPostgres?) {
        self.pool = pool
        self.embedded = embedded
    }

    /// Every migration of the server, contexts in dependency order. Each bounded context adds its
    /// own here as it lands; the runner applies what is pending.
    public static var migrations: [Migration] { ComposedContexts.migrations }

    /// Connects to `database-url`, or initializes and starts the private cluster under `data-dir`.
    /// `tracer`: spans of the statements run inside traced calls (``ServerTracing``).
    public static func open(_ settings: ServerSettings, logger: Logger, tracer: (any Tracer)? = nil) async throws -> Database {
        var embedded: EmbeddedPostgres?
        var connectionString = settings.databaseConnectionString
        if connectionString.isEmpty {
            let directory = URL(fileURLWithPath: settings.dataDirectory).standardizedFileURL.path + "/postgres"
            logger.info("starting the private PostgreSQL", metadata: ["directory": "\(directory)"])
            let cluster = try await EmbeddedPostgres.start(EmbeddedPostgres.Options(directory: directory))
            try await cluster.createDatabase("karokar")
            connectionString = cluster.connectionString(database: "karokar")
            embedded = cluster
        }
        var configuration = PostgresPool.Configuration(connectionString: connectionString)
        configuration.maximumConnections = settings.databasePoolSize
        configuration.acquireTimeout = settings.databaseAcquireTimeout
        configuration.tracer = tracer
        let database = Database(pool: PostgresPool(configuration: configuration), embedded: embedded)
        do {
            try await database.firstAnswer(logger: logger)
            if embedded == nil { try await PoolerCheck.run(connectionString: connectionString, patience: firstConnectionPatience) }
        } catch let error as PostgresError {
            await database.close()
            // At start the server's text is what the operator needs (a refused password, an unknown host).
            throw StartupFailure(description: "cannot use the database: \(error.debugDescription)")
        } catch {
            await database.close()
            throw error
        }
        return database
    }

    /// How long the start waits for a database that is slow to accept its first connection (a
    /// machine under load, a cluster still recovering): longer than a call's acquire timeout,
    /// since a server that gives up here does not start at all.
    static let firstConnectionPatience: Duration = .seconds(60)

    /// `SELECT 1` on the first connection. A pool timeout while the connection is still being
    /// opened (no connect error) is retried until ``firstConnectionPatience``, with a warning each
    /// time; a refused connection (bad password, unknown database, nothing listening) fails at
    /// once with the database's reason.
    func firstAnswer(logger: Logger) async throws {
        let started = ContinuousClock.now
        while true {
            do {
                try await pool.query("SELECT 1")
                return
            } catch let error as PostgresError where error.code == .poolTimeout && pool.lastConnectError == nil {
                let waited = ContinuousClock.now - started
                guard waited < Self.firstConnectionPatience else {
                    throw StartupFailure(description: "cannot use the database: it has not accepted a connection within \(Self.firstConnectionPatience)")
                }
                logger.warning("the database has not accepted a connection yet; still waiting", metadata: [
                    "waited_s": "\(waited.components.seconds)",
                    "patience": "\(Self.firstConnectionPatience)",
                ])
            }
        }
    }

    /// Applies pending migrations; returns how many ran.
    @discardableResult
    public func migrate(logger: Logger) async throws -> Int {
        let applied = try await MigrationRunner.migrate(Self.migrations, pool: pool)
        for migration in applied {
            logger.info("migration applied", metadata: ["context": "\(migration.context)", "version": "\(migration.version)", "name": "\(migration.name)"])
        }
        return applied.count
    }

    public func close() async {
        await pool.close()
        await embedded?.stop()
    }
}

/// Why the server cannot start, in words for the operator.
struct StartupFailure: Error, CustomStringConvertible {
    let description: String
}
