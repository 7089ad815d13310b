import KaroKarPostgres

/// The server needs session semantics from its database connections (Deploy/pgbouncer.md): named
/// prepared statements live on a connection, the relay and Identity LISTEN on theirs, migrations
/// hold a session advisory lock. A pooler in transaction or statement mode (pgbouncer's
/// `pool_mode=transaction`) breaks all three, so the server checks at start and refuses.
///
/// The check: two client connections, both held open, each ask for their PostgreSQL backend's pid
/// a few times. Without a pooler, or with one in session mode, two open connections never share a
/// backend. In transaction mode a backend goes back to the pooler after every statement and
/// serves the other connection next (pgbouncer hands out the most recently used server
/// connection first), which shows as the same pid on both, or as a prepared statement of one
/// connection found (or missing) on the other.
enum PoolerCheck {
    struct TransactionPooling: Error, CustomStringConvertible {
        let evidence: String
        var description: String {
            "database-url leads to a connection pooler in transaction or statement mode (\(evidence)): KaroKar needs session pooling (pgbouncer pool_mode=session; Deploy/pgbouncer.md)"
        }
    }

    /// `patience`: how long each of the two connections may take to open. The start's, not a
    /// call's acquire timeout: the database has just answered, a slow connect here means a machine
    /// under load, and a server that gives up does not start at all (a refusal still fails, with
    /// the database's reason, once the patience is spent).
    static func run(connectionString: String, patience: Duration) async throws {
        var configuration = PostgresPool.Configuration(connectionString: connectionString)
        configuration.maximumConnections = 2
        configuration.ioThreads = 1
        configuration.acquireTimeout = patience
        let probe = PostgresPool(configuration: configuration)
        do {
            try await probe.withConnection { first in
                try await probe.withConnection { second in
                    for _ in 0..<3 {
                        let one = try await pid(first)
                        let other = try await pid(second)
                        if one == other { throw TransactionPooling(evidence: "two open connections were served by the same backend, pid \(one)") }
                    }
                }
            }
        } catch let error as PostgresError where ["42P05", "26000"].contains(error.code.rawValue) {
            // duplicate_prepared_statement, invalid_sql_statement_name
            await probe.close()
            throw TransactionPooling(evidence: "a connection's prepared statements were found on, or missing from, another: \(error.debugDescription)")
        } catch {
            await probe.close()
            throw error
        }
        await probe.close()
    }

    private static func pid(_ session: PostgresSession) async throws -> Int {
        try await session.query("SELECT pg_backend_pid() AS pid").single().decode(Int.self, "pid")
    }
}
