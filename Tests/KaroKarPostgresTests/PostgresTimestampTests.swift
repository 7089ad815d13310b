import Foundation
@testable import KaroKarPostgres
import KaroKarTestSupport
import Testing

/// Issue 19, finding 1: `PostgresTimestamp` is total. A page token carrying `Int64.min` used to
/// end the process in `seconds` (an overflow trap), and an instant before year 1 was written in a
/// form PostgreSQL refused (22009). Now any `Int64` gives a value, its text is PostgreSQL's own,
/// and what PostgreSQL cannot hold is refused by PostgreSQL as out of range, not by a crash.
@Suite("PostgresTimestamp at Int64's ends")
struct PostgresTimestampTests {
    static let edges: [Int64] = [
        .min, .min + 1, -210_866_803_200_000_001, PostgresTimestamp.postgresRange.lowerBound, -62_135_596_800_000_001,
        -62_135_596_800_000_000, -1_000_001, -1_000_000, -999_999, -1, 0, 1, 999_999, 1_000_000, 253_402_300_799_999_999,
        253_402_300_800_000_000, .max - 1, .max,
    ]

    @Test("seconds and nanos never trap, and put the value back together exactly", arguments: edges)
    func accessors(_ microseconds: Int64) {
        let value = PostgresTimestamp(microseconds: microseconds)
        #expect((0..<1_000_000_000).contains(value.nanos))
        #expect(value.nanos % 1000 == 0)
        #expect(Int128(value.seconds) * 1_000_000 + Int128(value.nanos / 1000) == Int128(microseconds))
    }

    @Test("init(seconds:nanos:) clamps to Int64 microseconds instead of trapping")
    func clamping() {
        #expect(PostgresTimestamp(seconds: .max).microseconds == .max)
        #expect(PostgresTimestamp(seconds: .min).microseconds == .min)
        #expect(PostgresTimestamp(seconds: .max, nanos: .max).microseconds == .max)
        #expect(PostgresTimestamp(seconds: .min, nanos: .min).microseconds == .min)
        #expect(PostgresTimestamp(seconds: Int64.max / 1_000_000, nanos: 999_999_999).microseconds == .max)
        #expect(PostgresTimestamp(seconds: Int64.min / 1_000_000, nanos: -999_999_999).microseconds == .min)
        #expect(PostgresTimestamp(seconds: 12, nanos: 345_678_901).microseconds == 12_345_678)
        #expect(PostgresTimestamp(seconds: -1, nanos: 500_000_000).microseconds == -500_000)
    }

    @Test("the text form reads back, before year 1 (BC) and after 9999 too", arguments: edges)
    func textRoundTrip(_ microseconds: Int64) throws {
        let value = PostgresTimestamp(microseconds: microseconds)
        #expect(try PostgresTimestamp(postgresText: value.postgresText) == value, "\(value.postgresText)")
    }

    @Test("known texts: year 1, 1 BC, PostgreSQL's first instant, Int64's last microsecond")
    func knownTexts() {
        #expect(PostgresTimestamp(microseconds: -62_135_596_800_000_000).postgresText == "0001-01-01 00:00:00.000000+00")
        #expect(PostgresTimestamp(microseconds: -62_135_596_800_000_001).postgresText == "0001-12-31 23:59:59.999999+00 BC")
        #expect(PostgresTimestamp(microseconds: PostgresTimestamp.postgresRange.lowerBound).postgresText == "4714-11-24 00:00:00.000000+00 BC")
        #expect(PostgresTimestamp(microseconds: .max).postgresText == "294247-01-10 04:00:54.775807+00")
    }

    @Test("malformed and out-of-Int64 texts are decoding errors, not traps")
    func malformedTexts() {
        for text in ["", "infinity", "-infinity", "2026-13-01 00:00:00+00", "2026-01-01 00:00:00", "294276-12-31 23:59:59.999999+00",
                     "9999999-01-01 00:00:00+00", "2026-01-01 00:00:00.1234567+00", "2026-01-01 00:00:00.+00", "2026-01-01T00:00:00+00"] {
            #expect(throws: PostgresError.self, "\(text)") { try PostgresTimestamp(postgresText: text) }
        }
    }

    @Test("against PostgreSQL: every value in its range round-trips; one before it is refused as out of range (22008), and the pool goes on")
    func postgres() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        for microseconds in Self.edges {
            let value = PostgresTimestamp(microseconds: microseconds)
            let query: SQL = "SELECT \(value)::timestamptz AS t, \(value)::timestamptz::text AS text"
            if value.isWithinPostgresRange {
                let row = try await pool.query(query).single()
                #expect(try row.decode(PostgresTimestamp.self, "t") == value, "\(value.postgresText)")
                #expect(try row.decode(String.self, "text") == value.postgresText.replacingOccurrences(of: ".000000", with: ""), "PostgreSQL writes the same text")
            } else {
                await #expect(throws: PostgresError.self, "\(value.postgresText)") { try await pool.query(query) }
            }
        }
        #expect(try await pool.query("SELECT 1 AS one").single().decode(Int.self, "one") == 1)
        await pool.close()
    }
}
