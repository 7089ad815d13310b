import Foundation
import KaroKarKernel
import KaroKarPostgres
import KaroKarTestSupport
import Testing

/// The outbox's promises across real processes (issue 3): `karokar-events-probe` publishes or
/// relays, and dies by SIGKILL where the test says. Its two consumers write one `probe.effect` row
/// per handled event, in the delivery's transaction, so a duplicate effect would be a second row.
@Suite("Event platform across processes: crashes, restarts, two relays", .serialized)
struct EventProcessTests {
    @Test("three processes migrating one database at once apply each migration once")
    func concurrentMigrations() async throws {
        let (pool, conninfo) = try await TestDatabase.fresh()
        let runs = try await withThrowingTaskGroup(of: Probe.Outcome.self) { group in
            for _ in 0..<3 { group.addTask { try await Probe.run(["migrate", conninfo]) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(runs.allSatisfy { $0.status == 0 }, "\(runs)")
        let applied = try await count(pool, "SELECT count(*)::int FROM karokar_meta.schema_migrations")
        #expect(applied == KernelMigrations.platform.count + 1)
        await pool.close()
    }

    @Test("a publisher killed right after its commit: after restart every consumer gets every event, once")
    func killedAfterCommit() async throws {
        let (pool, conninfo) = try await migratedProbeDatabase()
        let publisher = try await Probe.run(["publish", conninfo, "40", "4", "--kill-after-commit"])
        #expect(publisher.killedBySIGKILL, "\(publisher)")
        let lastEvent = publisher.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await count(pool, "SELECT count(*)::int FROM karokar_events.outbox WHERE event_id::text = \(lastEvent)") == 1)

        let relay = try await Probe.run(["relay", conninfo])
        #expect(relay.status == 0, "\(relay)")
        try await expectExactlyOnce(pool, events: 40)
        #expect(try await count(pool, "SELECT count(*)::int FROM probe.effect WHERE event_id::text = \(lastEvent)") == 2, "both consumers")
        await pool.close()
    }

    @Test("a relay killed mid-handling: the event comes again after its lease, and takes effect once")
    func killedMidHandling() async throws {
        let (pool, conninfo) = try await migratedProbeDatabase()
        #expect(try await Probe.run(["publish", conninfo, "20", "2"]).status == 0)
        let marker = NSTemporaryDirectory() + "probe-kill-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let arguments = ["relay", conninfo, "--kill-in-handler", "3", marker, "--lease-ms", "1000"]
        let crashed = try await Probe.run(arguments)
        #expect(crashed.killedBySIGKILL, "\(crashed)")
        #expect(FileManager.default.fileExists(atPath: marker), "it died in the handler")
        #expect(try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery") > 0, "work was left")

        let restarted = try await Probe.run(arguments)
        #expect(restarted.status == 0, "\(restarted)")
        try await expectExactlyOnce(pool, events: 20)
        await pool.close()
    }

    @Test("two relays in two processes share the work: every event reaches every consumer once, in order")
    func twoRelays() async throws {
        let (pool, conninfo) = try await migratedProbeDatabase()
        let relays = try await withThrowingTaskGroup(of: Probe.Outcome.self) { group in
            for _ in 0..<2 { group.addTask { try await Probe.run(["relay", conninfo, "--effects", "1200"]) } }
            // Both listening first, so both are woken as events commit.
            let started = ContinuousClock.now
            while try await count(pool, "SELECT count(*)::int FROM pg_stat_activity WHERE query LIKE 'LISTEN%'") < 2,
                  ContinuousClock.now - started < .seconds(30) {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(try await Probe.run(["publish", conninfo, "600", "30"]).status == 0)
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(relays.allSatisfy { $0.status == 0 }, "\(relays)")
        try await expectExactlyOnce(pool, events: 600)
        #expect(try await count(pool, "SELECT count(DISTINCT pid)::int FROM probe.effect") == 2, "both relays delivered")
        await pool.close()
    }

    private func migratedProbeDatabase() async throws -> (PostgresPool, String) {
        let (pool, conninfo) = try await TestDatabase.fresh()
        let migrated = try await Probe.run(["migrate", conninfo])
        try #require(migrated.status == 0, "\(migrated)")
        return (pool, conninfo)
    }

    /// Each of the two consumers has exactly one effect per event, and saw each aggregate in order.
    private func expectExactlyOnce(_ pool: PostgresPool, events: Int) async throws {
        #expect(try await count(pool, "SELECT count(*)::int FROM karokar_events.outbox") == events)
        #expect(try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery") == 0)
        #expect(try await count(pool, "SELECT count(*)::int FROM probe.effect") == 2 * events)
        #expect(try await count(pool, "SELECT count(*)::int FROM (SELECT DISTINCT consumer, event_id FROM probe.effect) AS d") == 2 * events)
        let backwards = try await count(pool, """
            SELECT count(*)::int FROM (
                SELECT aggregate_version < lag(aggregate_version) OVER (PARTITION BY consumer, aggregate_id ORDER BY id) AS b
                FROM probe.effect) AS s WHERE b
            """)
        #expect(backwards == 0)
    }
}

/// Runs the probe executable, which the build puts next to the test bundle.
enum Probe {
    struct Outcome: Sendable, CustomStringConvertible {
        let status: Int32
        let killedBySIGKILL: Bool
        let output: String

        var description: String { "status \(status)\(killedBySIGKILL ? " (SIGKILL)" : ""): \(output.suffix(2000))" }
    }

    static var executable: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("karokar-events-probe")
    }

    static func run(_ arguments: [String]) async throws -> Outcome {
        let outcome = try await ChildProcess.run(executable, arguments, timeout: .seconds(300))
        return Outcome(
            status: outcome.status ?? -1, killedBySIGKILL: outcome.endedBySignal && outcome.status == SIGKILL,
            output: outcome.stdout + outcome.stderr
        )
    }
}
