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
            #expect(error.category == .bug)
        }
        #expect(try await pool.query("SELECT \("Toyota")::text AS t").single().decode(String.self, "t") == "Toyota", "the connection goes on")
        await pool.close()
    }

    @Test("failures classify themselves: outages, a full pool, conflicts, cancellations, constraints, bugs")
    func categories() {
        let expected: [String: PostgresError.Category] = [
            "08000": .unavailable, "08006": .unavailable, "57P01": .unavailable, "57P03": .unavailable, "53300": .unavailable,
            "25006": .unavailable, "KK001": .poolExhausted, "40001": .conflict, "40P01": .conflict, "55P03": .conflict,
            "57014": .canceled, "23505": .constraintViolation, "23514": .constraintViolation, "42P01": .bug, "22008": .bug,
            "KK002": .bug, "KK003": .bug, "P0001": .bug,
        ]
        for (code, category) in expected {
            #expect(PostgresError.Code(rawValue: code).category == category, "\(code)")
        }
    }
}
