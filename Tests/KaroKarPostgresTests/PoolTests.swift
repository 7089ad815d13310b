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

    @Test("each waiter times out at its own deadline, served waiters never, whatever came before (one timer for all)")
    func eachWaiterHasItsOwnDeadline() async throws {
        let (setup, url) = try await TestDatabase.fresh(maximumConnections: 1)
        await setup.close()
        var configuration = PostgresPool.Configuration(connectionString: url)
        configuration.maximumConnections = 1
        configuration.acquireTimeout = .seconds(2)
        let pool = PostgresPool(configuration: configuration)
        _ = try await pool.query("SELECT 1")
        let clock = ContinuousClock()
        // Served: many short waits, each well within the timeout (the timer armed by the first
        // fires while later ones wait, and must not fail them).
        for _ in 0..<5 {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 { group.addTask { _ = try await pool.query("SELECT pg_sleep(0.01)") } }
                try await group.waitForAll()
            }
        }
        // Held: the only connection is leased until the end; A waits from 0, B from 1 s.
        let holder = Task { try await pool.withConnection { _ in try await Task.sleep(for: .seconds(60)) } }
        while pool.metrics.inUse == 0 { try await Task.sleep(for: .milliseconds(5)) }
        let start = clock.now
        func wait() async -> (Duration, PostgresError.Code?) {
            do {
                _ = try await pool.query("SELECT 1")
                return (clock.now - start, nil)
            } catch {
                return (clock.now - start, (error as? PostgresError)?.code)
            }
        }
        async let a = wait()
        try await Task.sleep(for: .seconds(1))
        async let b = wait()
        let (aAt, aCode) = await a
        let (bAt, bCode) = await b
        holder.cancel()
        _ = await holder.result
        #expect(aCode == .poolTimeout && bCode == .poolTimeout)
        #expect(aAt >= .seconds(2) && aAt < .seconds(4), "A at \(aAt)")
        // B's deadline is 1 s after A's: not A's, and not a whole timeout after A's timer fired.
        #expect(bAt - aAt >= .milliseconds(500) && bAt - aAt < .milliseconds(1_800), "A at \(aAt), B at \(bAt)")
        #expect(pool.metrics.waiting == 0)
        #expect(try await pool.query("SELECT 2 AS n").single().decode(Int.self, "n") == 2)
        await pool.close()
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

