import Foundation
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
@testable import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import Logging
import Testing

@Suite("Health follows the database")
struct DatabaseHealthTests {
    @Test("PostgreSQL stops: HealthService NOT_SERVING and /readyz 503 while it is down, both recover without a restart")
    func outageAndRecovery() async throws {
        let cluster = try await EmbeddedPostgres.start(TestDatabase.throwawayOptions(name: "ops-health"))
        try await cluster.createDatabase("karokar")
        var configuration = PostgresPool.Configuration(connectionString: cluster.connectionString(database: "karokar"))
        configuration.acquireTimeout = .seconds(1)
        let pool = PostgresPool(configuration: configuration)
        _ = try await MigrationRunner.migrate(Database.migrations, pool: pool)
        let server = try await TestServer.start(pool: pool) {
            $0.operations.adminPort = 0
            $0.operations.healthCheckInterval = .milliseconds(100)
        }
        let (admin, port) = try await startAdmin(for: server.application)
        let client = server.client()
        let health = RPCV1.HealthService.Client(client)
        try #require(try await eventually { try await HTTP.get(port: port, "/readyz").status == 200 })
        #expect(try await health.check(.init()).status == .serving)

        try await cluster.pause()
        #expect(try await eventually { try await health.check(.init()).status == .notServing })
        let down = try await HTTP.get(port: port, "/readyz")
        #expect(down.status == 503)
        #expect(down.body == "not ready: the database does not answer\n")
        #expect(try await HTTP.get(port: port, "/livez").status == 200, "the process itself is fine")

        try await cluster.resume()
        #expect(try await eventually { try await health.check(.init()).status == .serving })
        #expect(try await eventually { try await HTTP.get(port: port, "/readyz").status == 200 })

        await client.close()
        await admin.close()
        await server.stop()
        await pool.close()
        await cluster.stop()
    }

    @Test("a database slow to accept the first connection (postmaster stopped) is waited for at start, past the acquire timeout")
    func startWaitsForASlowDatabase() async throws {
        try await whilePostmasterStopped("ops-slow-start", for: .milliseconds(2_500)) { url in
            var settings = ServerSettings()
            settings.databaseURL = url
            settings.databaseAcquireTimeout = .seconds(1)
            return try await Database.open(settings, logger: Logger(label: "slow-start"))
        } then: { (database: Database, waited: Duration) async throws in
            #expect(waited >= .milliseconds(2_500), "it waited for the database")
            #expect(try await database.pool.query("SELECT 1 AS one").single().decode(Int.self, "one") == 1)
            await database.close()
        }
    }

    @Test("the start's pooler check waits for slow connections as long as the first answer does, not a call's acquire timeout")
    func poolerCheckWaitsForASlowDatabase() async throws {
        // Stopped past a pool's default acquire timeout (5 s): the check's two connects queue.
        try await whilePostmasterStopped("ops-slow-check", for: .milliseconds(6_500)) { url in
            try await PoolerCheck.run(connectionString: url, patience: Database.firstConnectionPatience)
        } then: { _, _ in }
    }

    /// Runs `body` against a throwaway cluster's database whose postmaster is stopped (SIGSTOP:
    /// the kernel queues connections and nobody answers them: slow, not refusing) for `stopped`,
    /// then continued; `then` gets what `body` returned and how long it took, with the cluster
    /// still up. The postmaster is continued and the cluster stopped however either ends.
    private func whilePostmasterStopped<T: Sendable>(
        _ name: String, for stopped: Duration, _ body: @escaping @Sendable (String) async throws -> T,
        then check: (T, Duration) async throws -> Void
    ) async throws {
        let options = TestDatabase.throwawayOptions(name: name)
        let cluster = try await EmbeddedPostgres.start(options)
        try await cluster.createDatabase("karokar")
        let pidText = try String(contentsOfFile: options.directory + "/data/postmaster.pid", encoding: .utf8)
        let postmaster = try #require(postmasterPID(pidText))
        let url = cluster.connectionString(database: "karokar")
        #expect(kill(postmaster, SIGSTOP) == 0)
        let started = ContinuousClock.now
        let running = Task { try await body(url) }
        try? await Task.sleep(for: stopped)
        #expect(kill(postmaster, SIGCONT) == 0)
        let outcome = await running.result
        let took = ContinuousClock.now - started
        do {
            try await check(try outcome.get(), took)
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    private func postmasterPID(_ text: String) -> pid_t? {
        text.split(separator: "\n").first.flatMap { pid_t(String($0).trimmingCharacters(in: .whitespaces)) }
    }
}
