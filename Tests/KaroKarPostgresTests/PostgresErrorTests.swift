@testable import KaroKarPostgres
import KaroKarTestSupport
import Testing

/// How database failures describe themselves (issue 19, findings 9 and 11).
@Suite("PostgresError: NUL binds, categories")
struct PostgresErrorTests {
    @Test("a bind value holding NUL is refused before it is sent, instead of being cut at the NUL")
    func nulBind() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        do {
            try await pool.query("SELECT \("Toy\u{0}ota")::text AS t")
            Issue.record("a NUL was sent")
        } catch let error as PostgresError {
            #expect(error.code == .invalidBind)
        }
        #expect(try await pool.query("SELECT \("Toyota")::text AS t").single().decode(String.self, "t") == "Toyota", "the connection goes on")
        await pool.close()
    }
}
