import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
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
}
