import Foundation
@testable import KaroKarPostgres
import KaroKarTestSupport
import Testing

@Suite("libpq wrapper against a real PostgreSQL")
struct PostgresTests {
    @Test("values round-trip through bind parameters and typed decoding")
    func valueRoundTrip() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        let id = UUID()
        let start = PostgresTimestamp(seconds: 1_783_000_000, nanos: 123_456_000)
        let range = PostgresTimestampRange(lower: start, upper: PostgresTimestamp(seconds: 1_783_086_400))
        let open = PostgresTimestampRange(lower: start, upper: nil)
        let text = "it's \"quoted\"; DROP TABLE x; -- é ✓"
        let row = try await pool.query("""
            SELECT \(id)::uuid AS id, \(text)::text AS text, \(Int64.max)::int8 AS big, \(Int32(-7))::int4 AS small,
                   \(true)::bool AS flag, \(start)::timestamptz AS at, \(range)::tstzrange AS period,
                   \(open)::tstzrange AS open_period, \(PostgresJSON(#"{"a": [1, 2]}"#))::jsonb AS doc,
                   \(["a", "b,c", "d\"e"])::text[] AS tags, \([Int64(3), 4])::int8[] AS numbers,
                   \(PostgresBytes([0, 1, 255]))::bytea AS blob, \(String?.none)::text AS nothing
            """).single()
        #expect(try row.decode(UUID.self, "id") == id)
        #expect(try row.decode(String.self, "text") == text)
        #expect(try row.decode(Int64.self, "big") == .max)
        #expect(try row.decode(Int32.self, "small") == -7)
        #expect(try row.decode(Bool.self, "flag"))
        #expect(try row.decode(PostgresTimestamp.self, "at") == start)
        #expect(try row.decode(PostgresTimestampRange.self, "period") == range)
        #expect(try row.decode(PostgresTimestampRange.self, "open_period") == open)
        #expect(try row.decode(PostgresJSON.self, "doc").text == #"{"a": [1, 2]}"#)
        #expect(try row.decode([String].self, "tags") == ["a", "b,c", "d\"e"])
        #expect(try row.decode([Int64].self, "numbers") == [3, 4])
        #expect(try row.decode(PostgresBytes.self, "blob").bytes == [0, 1, 255])
        #expect(try row.decode(String?.self, "nothing") == nil)
        #expect(throws: PostgresError.self) { try row.decode(String.self, "nothing") }
        await pool.close()
    }

    @Test("timestamps: text form matches PostgreSQL's, before and after the epoch")
    func timestamps() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        for seconds: Int64 in [-2_208_988_800, -1, 0, 951_782_400, 4_102_444_799] {
            let value = PostgresTimestamp(seconds: seconds, nanos: 500_000)
            let row = try await pool.query("SELECT \(value)::timestamptz AS t, extract(epoch FROM \(value)::timestamptz)::text AS e").single()
            #expect(try row.decode(PostgresTimestamp.self, "t") == value)
            #expect(try Double(row.decode(String.self, "e")) == Double(seconds) + 0.0005)
        }
        await pool.close()
    }

    @Test("SQLSTATEs become typed errors; database text stays in debugDescription")
    func typedErrors() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        try await pool.transaction { session in
            try await session.query("CREATE EXTENSION IF NOT EXISTS btree_gist")
            try await session.query("CREATE TABLE owner (id int PRIMARY KEY)")
            try await session.query("CREATE TABLE item (id int PRIMARY KEY, owner int REFERENCES owner(id), period tstzrange, EXCLUDE USING gist (owner WITH =, period WITH &&))")
            try await session.query("INSERT INTO owner VALUES (1)")
        }
        let first = PostgresTimestampRange(lower: PostgresTimestamp(seconds: 0), upper: PostgresTimestamp(seconds: 100))
        let overlapping = PostgresTimestampRange(lower: PostgresTimestamp(seconds: 99), upper: PostgresTimestamp(seconds: 200))
        let adjacent = PostgresTimestampRange(lower: PostgresTimestamp(seconds: 100), upper: PostgresTimestamp(seconds: 200))
        try await pool.query("INSERT INTO item VALUES (1, 1, \(first))")
        try await pool.query("INSERT INTO item VALUES (2, 1, \(adjacent))")
        await expectCode(.uniqueViolation) { try await pool.query("INSERT INTO item VALUES (1, 1, NULL)") }
        await expectCode(.foreignKeyViolation) { try await pool.query("INSERT INTO item VALUES (3, 2, NULL)") }
        await expectCode(.exclusionViolation) { try await pool.query("INSERT INTO item VALUES (4, 1, \(overlapping))") }
        do {
            try await pool.query("INSERT INTO item VALUES (1, 1, NULL)")
        } catch let error as PostgresError {
            #expect(error.constraint == "item_pkey")
            #expect(!error.description.contains("already exists"), "no server text in description")
            #expect(error.debugDescription.contains("already exists"))
        }
        await pool.close()
    }

    @Test("a unit of work that throws leaves nothing behind")
    func rollbackOnThrow() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        try await pool.query("CREATE TABLE note (id int PRIMARY KEY)")
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await pool.transaction { session in
                try await session.query("INSERT INTO note VALUES (1)")
                throw Boom()
            }
        }
        #expect(try await pool.query("SELECT count(*) AS n FROM note").single().decode(Int.self, "n") == 0)
        #expect(pool.metrics.inUse == 0)
        await pool.close()
    }

    @Test("a unit of work whose task is cancelled mid-statement leaves nothing behind")
    func rollbackOnCancel() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        try await pool.query("CREATE TABLE note (id int PRIMARY KEY)")
        let work = Task {
            try await pool.transaction { session in
                try await session.query("INSERT INTO note VALUES (1)")
                try await session.query("SELECT pg_sleep(30)")
            }
        }
        // Cancel once the statement runs on the server (a fixed sleep lost that race on a loaded
        // machine: a cancel request that lands between two statements is ignored by the server).
        let running: SQL = """
            SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE state = 'active' AND query = 'SELECT pg_sleep(30)' AND pid <> pg_backend_pid()
            """
        var polls = 0
        while polls < 200, try await pool.query(running).single().decode(Int.self, "n") == 0 {
            polls += 1
            try await Task.sleep(for: .milliseconds(50))
        }
        let started = ContinuousClock.now
        work.cancel()
        await #expect(throws: (any Error).self) { try await work.value }
        #expect(ContinuousClock.now - started < .seconds(5), "the server-side statement was cancelled")
        #expect(try await pool.query("SELECT count(*) AS n FROM note").single().decode(Int.self, "n") == 0)
        #expect(pool.metrics.inUse == 0)
        #expect(pool.metrics.connectionsClosed == 0, "the ROLLBACK ran, so the connection went back to the pool")
        await pool.close()
    }

    @Test("a cancel at any moment around a statement's start cancels that statement and no later one")
    func cancelRaces() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        try await pool.query("CREATE TABLE note (id int PRIMARY KEY)")
        // An 8 MB parameter takes milliseconds to send: a cancel in that time reaches the server
        // while it is still reading the statement, which is when PostgreSQL ignores one.
        let large = String(repeating: "x", count: 8 << 20)
        let started = ContinuousClock.now
        for round in 0..<36 {
            // Each kind of statement, with a cancel from before it is sent (0 µs) to well after the
            // server runs it.
            let delay = Duration.microseconds([0, 50, 200, 500, 1_000, 2_000, 4_000, 8_000, 15_000, 30_000, 60_000, 100_000][round % 12])
            let work = Task {
                switch round / 12 {
                case 0:
                    try await pool.query("SELECT pg_sleep(30)")
                case 1:
                    try await pool.query("SELECT pg_sleep(30), length(\(large)::text) AS n")
                default:
                    try await pool.transaction { session in
                        try await session.query("INSERT INTO note VALUES (\(round))")
                        try await session.query("SELECT pg_sleep(30)")
                    }
                }
            }
            try await Task.sleep(for: delay)
            let cancelled = ContinuousClock.now
            work.cancel()
            await #expect(throws: (any Error).self, "round \(round)") { try await work.value }
            #expect(ContinuousClock.now - cancelled < .seconds(5), "round \(round): the statement was cancelled")
            // A cancel request still on its way must not hit the connection's next statements.
            for _ in 0..<3 {
                #expect(try await pool.query("SELECT 1 AS one").single().decode(Int.self, "one") == 1, "round \(round)")
            }
        }
        #expect(ContinuousClock.now - started < .seconds(60))
        #expect(try await pool.query("SELECT count(*)::int AS n FROM note").single().decode(Int.self, "n") == 0)
        #expect(try await pool.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%' AND state = 'active' AND pid <> pg_backend_pid()"
        ).single().decode(Int.self, "n") == 0)
        #expect(pool.metrics.inUse == 0)
        await pool.close()
    }

    @Test("serialization failures are retried until the unit of work commits")
    func serializationRetry() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        try await pool.query("CREATE TABLE counter (id int PRIMARY KEY, value int)")
        try await pool.query("INSERT INTO counter VALUES (1, 0)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await pool.transaction(isolation: .serializable, maximumAttempts: 50) { session in
                        let value = try await session.query("SELECT value FROM counter WHERE id = 1").single().decode(Int.self, "value")
                        try await session.query("UPDATE counter SET value = \(value + 1) WHERE id = 1")
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await pool.query("SELECT value FROM counter").single().decode(Int.self, "value") == 20)
        await pool.close()
    }

    @Test("BEGIN travels with the first statement: isolation holds, a failing first statement aborts the transaction, an empty one sends nothing")
    func pipelinedBegin() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        try await pool.query("CREATE TABLE note (id int PRIMARY KEY)")
        // The first statement already runs inside the transaction, at the requested level.
        let level = try await pool.transaction(isolation: .serializable) { session in
            try await session.query("SELECT current_setting('transaction_isolation') AS level, now() = statement_timestamp() AS first")
                .single().decode(String.self, "level")
        }
        #expect(level == "serializable")
        // A first statement that fails: the error is the statement's, nothing is kept, the
        // connection goes back to the pool.
        try await pool.query("INSERT INTO note VALUES (1)")
        await expectCode(.uniqueViolation) {
            try await pool.transaction { session in
                _ = try await session.query("INSERT INTO note VALUES (1)")
            }
        }
        await expectCode(.uniqueViolation) {
            try await pool.transaction { session in
                try await session.query("INSERT INTO note VALUES (2)")
                _ = try await session.query("INSERT INTO note VALUES (1)")
            }
        }
        #expect(try await pool.query("SELECT count(*) AS n FROM note").single().decode(Int.self, "n") == 1)
        // Parameters of the first statement arrive intact; later statements see its effect.
        let seen = try await pool.transaction { session in
            try await session.query("INSERT INTO note VALUES (\(Int32(7)))")
            return try await session.query("SELECT count(*) AS n FROM note WHERE id = \(Int32(7))").single().decode(Int.self, "n")
        }
        #expect(seen == 1)
        // A first statement that fails to prepare, caught: the BEGIN is still held back, so what
        // follows still runs inside the transaction (and rolls back with it).
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await pool.transaction { session in
                _ = try? await session.query("SELEC 1")
                try await session.query("INSERT INTO note VALUES (\(Int32(8)))")
                throw Boom()
            }
        }
        #expect(try await pool.query("SELECT count(*) AS n FROM note WHERE id = 8").single().decode(Int.self, "n") == 0)
        // A transaction that runs nothing, and one whose first command is a simple one.
        try await pool.transaction { _ in }
        try await pool.transaction { session in try await session.simple("SET LOCAL statement_timeout = 1000") }
        #expect(pool.metrics.inUse == 0)
        #expect(pool.metrics.connectionsClosed == 0, "every connection was left idle, out of pipeline mode")
        await pool.close()
    }

    @Test("queued statements run in order with the next statement or the commit; a failing one fails the transaction")
    func queuedStatements() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        try await pool.query("CREATE TABLE note (id int PRIMARY KEY)")
        // Seen by the next statement, in order, in the same transaction.
        let seen = try await pool.transaction { session in
            session.enqueue("INSERT INTO note VALUES (\(Int32(1)))")
            session.enqueue("INSERT INTO note VALUES (\(Int32(2)))")
            return try await session.query("SELECT array_agg(id ORDER BY id)::text AS ids FROM note").single().decode(String.self, "ids")
        }
        #expect(seen == "{1,2}")
        // Only queued statements: they go out with the COMMIT.
        try await pool.transaction { session in session.enqueue("INSERT INTO note VALUES (\(Int32(3)))") }
        // A queued statement that fails: reported at the commit, nothing of the transaction kept.
        await expectCode(.uniqueViolation) {
            try await pool.transaction { session in
                try await session.query("INSERT INTO note VALUES (4)")
                session.enqueue("INSERT INTO note VALUES (\(Int32(1)))")
            }
        }
        // …or at the next statement, which does not run.
        await expectCode(.uniqueViolation) {
            try await pool.transaction { session in
                session.enqueue("INSERT INTO note VALUES (\(Int32(1)))")
                _ = try await session.query("INSERT INTO note VALUES (5)")
            }
        }
        // Queued, then the unit of work throws: nothing reaches the table.
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await pool.transaction { session in
                session.enqueue("INSERT INTO note VALUES (\(Int32(6)))")
                throw Boom()
            }
        }
        #expect(try await pool.query("SELECT array_agg(id ORDER BY id)::text AS ids FROM note").single().decode(String.self, "ids") == "{1,2,3}")
        #expect(pool.metrics.inUse == 0)
        #expect(pool.metrics.connectionsClosed == 0)
        await pool.close()
    }

    @Test("affected rows are counted per command; column names stay right when a prepared statement runs again")
    func affectedRowsAndColumns() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        #expect(try await pool.query("CREATE TABLE counted (id int PRIMARY KEY, note text)").affectedRows == 0)
        #expect(try await pool.query("INSERT INTO counted SELECT i, NULL FROM generate_series(1, 12) AS i").affectedRows == 12)
        #expect(try await pool.query("UPDATE counted SET note = \("x") WHERE id > \(Int32(100))").affectedRows == 0)
        #expect(try await pool.query("UPDATE counted SET note = \("x") WHERE id <= \(Int32(3))").affectedRows == 3)
        for limit in [Int32(2), 5, 0] {  // the same prepared statement, its column names remembered
            let rows = try await pool.query("SELECT id AS first, note AS second FROM counted ORDER BY id LIMIT \(limit)")
            #expect(rows.columns == ["first", "second"])
            #expect(rows.count == Int(limit))
            #expect(try rows.map { try $0.decode(Int32.self, "first") } == Array((1...max(limit, 1)).prefix(Int(limit))))
        }
        #expect(try await pool.query("DELETE FROM counted").affectedRows == 12)
        await pool.close()
    }

    private func expectCode(_ code: PostgresError.Code, _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("expected \(code)")
        } catch let error as PostgresError {
            #expect(error.code == code, "\(error.debugDescription)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
