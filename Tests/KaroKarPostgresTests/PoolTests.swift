import KaroKarPostgres
import KaroKarTestSupport
import Testing

@Suite("Connection pool under load and outage")
struct PoolTests {
    @Test("200 tasks on a pool of 10: bounded waits, clear errors while the database is down, recovery, no leaks")
    func loadAndOutage() async throws {
        let cluster = try await EmbeddedPostgres.start(TestDatabase.throwawayOptions(name: "outage"))
        try await cluster.createDatabase("app")
        var configuration = PostgresPool.Configuration(connectionString: cluster.connectionString(database: "app"))
        configuration.maximumConnections = 10
        configuration.acquireTimeout = .seconds(2)
        let pool = PostgresPool(configuration: configuration)

        // Load: every task gets its turn; at most 10 server sessions ever exist.
        let outcomes = await run(pool, tasks: 200)
        #expect(outcomes.failures.isEmpty, "\(outcomes.failures.prefix(3))")
        #expect(outcomes.successes == 200)
        #expect(try await backends(pool) <= 10)

        // Outage: calls fail fast and clearly instead of hanging.
        try await cluster.pause()
        let started = ContinuousClock.now
        let during = await run(pool, tasks: 200)
        #expect(during.successes == 0)
        #expect(ContinuousClock.now - started < .seconds(15), "bounded waits")
        let codes = Set(during.failures.compactMap { ($0 as? PostgresError)?.code })
        #expect(codes.isSubset(of: [.connectionFailure, .poolTimeout]), "\(codes)")
        #expect(during.failures.count == 200)

        // Recovery: the pool reconnects by itself. Connections broken by the outage are replaced
        // on first use, and reconnection starts from the outage's backoff (up to 2 s, the acquire
        // timeout), so the first runs may still see those two errors; on a loaded machine, for
        // more than one run. Within five runs, one must serve every task.
        try await cluster.resume()
        var recovered = await run(pool, tasks: 200)
        var runs = 1
        while recovered.successes < 200, runs < 5 {
            let codes = Set(recovered.failures.compactMap { ($0 as? PostgresError)?.code })
            #expect(codes.isSubset(of: [.connectionFailure, .poolTimeout]), "\(codes)")
            recovered = await run(pool, tasks: 200)
            runs += 1
        }
        #expect(recovered.successes == 200, "after \(runs) runs: \(recovered.failures.prefix(3))")
        #expect(pool.metrics.inUse == 0, "no connection leaked")
        #expect(pool.metrics.waiting == 0)
        #expect(try await backends(pool) <= 10)
        await pool.close()
        await cluster.stop()
    }

    private func run(_ pool: PostgresPool, tasks: Int) async -> (successes: Int, failures: [any Error]) {
        await withTaskGroup(of: (any Error)?.self) { group in
            for index in 0..<tasks {
                group.addTask {
                    do {
                        let value = try await pool.query("SELECT \(index)::int AS n, pg_sleep(0.002)").single().decode(Int.self, "n")
                        return value == index ? nil : PostgresError(code: .decoding, serverMessage: "wrong row")
                    } catch {
                        return error
                    }
                }
            }
            var failures: [any Error] = []
            for await failure in group {
                if let failure { failures.append(failure) }
            }
            return (tasks - failures.count, failures)
        }
    }

    private func backends(_ pool: PostgresPool) async throws -> Int {
        try await pool.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'karokar'").single().decode(Int.self, "n")
    }
}

