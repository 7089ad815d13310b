import Foundation
import KaroKarPostgres
import KaroKarTestSupport
import Testing

/// `EmbeddedPostgres.Options.settings`: a plain setting reaches the server; one that pg_ctl's
/// option string could not carry is refused before anything is created.
@Suite("Embedded PostgreSQL: extra settings")
struct EmbeddedPostgresSettingsTests {
    @Test("work_mem=7MB is the server's; a quote, a space or an empty value is refused up front")
    func settings() async throws {
        var options = TestDatabase.throwawayOptions(name: "settings")
        options.settings = ["work_mem": "7MB"]
        let cluster = try await EmbeddedPostgres.start(options)
        let pool = PostgresPool(configuration: .init(connectionString: cluster.connectionString()))
        let workMem = try await pool.query("SELECT current_setting('work_mem') AS v").single().decode(String.self, "v")
        await pool.close()
        await cluster.stop()
        #expect(workMem == "7MB")

        for bad in [["work_mem": "7MB' -c fsync=off"], ["work_mem": "7 MB"], ["work_mem": ""], ["work mem": "7MB"], ["": "x"]] {
            var options = TestDatabase.throwawayOptions(name: "bad")
            options.settings = bad
            await #expect(throws: EmbeddedPostgres.Failure.self) { _ = try await EmbeddedPostgres.start(options) }
            #expect(!FileManager.default.fileExists(atPath: options.directory), "nothing created for \(bad)")
        }
    }
}
