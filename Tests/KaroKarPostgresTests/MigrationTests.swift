import Foundation
import KaroKarPostgres
import KaroKarTestSupport
import Testing

@Suite("Migrations")
struct MigrationTests {
    static let first = Migration(context: "fleet", version: 1, name: "vehicles", sql: "CREATE TABLE fleet.vehicle (id uuid PRIMARY KEY);")
    static let second = Migration(context: "fleet", version: 2, name: "plates", sql: "ALTER TABLE fleet.vehicle ADD COLUMN plate text;")
    static let other = Migration(context: "booking", version: 1, name: "bookings", sql: "CREATE TABLE booking.booking (id uuid PRIMARY KEY);")

    @Test("applied in order, exactly once")
    func appliesOnce() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        let applied = try await MigrationRunner.migrate([Self.second, Self.other, Self.first], pool: pool)
        #expect(applied.map { "\($0.context)/\($0.version)" } == ["fleet/1", "fleet/2", "booking/1"])
        #expect(try await MigrationRunner.migrate([Self.first, Self.second, Self.other], pool: pool).isEmpty)
        try await pool.query("INSERT INTO fleet.vehicle (id, plate) VALUES (\(UUID()), 'KA01')")
        await pool.close()
    }

    @Test("a failing migration leaves nothing behind and stops the run")
    func failingMigration() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        let broken = Migration(context: "fleet", version: 2, name: "broken", sql: "CREATE TABLE fleet.half (id int); SELECT * FROM nowhere;")
        await #expect(throws: PostgresError.self) { try await MigrationRunner.migrate([Self.first, broken], pool: pool) }
        let tables = try await pool.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'fleet'")
        #expect(try tables.single().decode(Int.self, "n") == 1, "fleet.half was rolled back with its migration")
        #expect(try await MigrationRunner.migrate([Self.first, Self.second], pool: pool).map(\.version) == [2])
        await pool.close()
    }

    @Test("a migration edited after it ran is refused")
    func checksum() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        try await MigrationRunner.migrate([Self.first], pool: pool)
        let edited = Migration(context: "fleet", version: 1, name: "vehicles", sql: "CREATE TABLE fleet.vehicle (id uuid PRIMARY KEY, x int);")
        await #expect(throws: MigrationError.checksumMismatch(context: "fleet", version: 1)) {
            try await MigrationRunner.migrate([edited], pool: pool)
        }
        await pool.close()
    }

    @Test("three runners starting together apply each migration once")
    func concurrentRunners() async throws {
        let (setup, connectionString) = try await TestDatabase.fresh()
        await setup.close()
        // A slow first migration makes the runners overlap.
        let slow = Migration(context: "fleet", version: 1, name: "slow", sql: "SELECT pg_sleep(0.5); CREATE TABLE fleet.vehicle (id uuid PRIMARY KEY);")
        let applied = try await withThrowingTaskGroup(of: [Migration].self) { group in
            for _ in 0..<3 {
                group.addTask {
                    let pool = PostgresPool(configuration: .init(connectionString: connectionString))
                    defer { Task { await pool.close() } }
                    return try await MigrationRunner.migrate([slow, Self.second], pool: pool)
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(applied.count == 2, "each migration applied by exactly one runner")
        let pool = PostgresPool(configuration: .init(connectionString: connectionString))
        let rows = try await pool.query("SELECT count(*)::int AS n FROM karokar_meta.schema_migrations")
        #expect(try rows.single().decode(Int.self, "n") == 2)
        await pool.close()
    }

    @Test("files are read from <context>/<NNNN>_<name>.sql")
    func loadsFiles() throws {
        let directory = NSTemporaryDirectory() + "migrations-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/fleet", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "SELECT 1;".write(toFile: directory + "/fleet/0002_second.sql", atomically: true, encoding: .utf8)
        try "SELECT 2;".write(toFile: directory + "/fleet/0001_first.sql", atomically: true, encoding: .utf8)
        let migrations = try Migration.load(directory: directory)
        #expect(migrations.map(\.version) == [1, 2])
        #expect(migrations.map(\.name) == ["first", "second"])
        try "x".write(toFile: directory + "/fleet/latest.sql", atomically: true, encoding: .utf8)
        #expect(throws: MigrationError.badFileName("fleet/latest.sql")) { try Migration.load(directory: directory) }
    }
}
