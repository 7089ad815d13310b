import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarTestSupport
import Logging
import Testing

/// A fresh database with the kernel's schema and a `demo.item` table for business rows.
func kernelDatabase() async throws -> (PostgresPool, String) {
    let (pool, conninfo) = try await TestDatabase.fresh()
    try await MigrationRunner.migrate(KernelMigrations.platform + [
        Migration(context: "demo", version: 1, name: "items", sql: """
            CREATE TABLE demo.item (id text PRIMARY KEY, note text NOT NULL);
            CREATE TABLE demo.seen (id bigserial PRIMARY KEY, consumer text NOT NULL, event_id uuid NOT NULL,
                                    aggregate_id text NOT NULL, aggregate_version bigint NOT NULL);
            """),
    ], pool: pool)
    return (pool, conninfo)
}

/// A `vehicle.registered` event of vehicle `aggregate`, at `version`.
func vehicleEvent(_ aggregate: String, version: Int64 = 1, type: String = "vehicle.registered") -> EventDraft {
    EventDraft(
        type, aggregateType: "vehicle", aggregateID: aggregate, aggregateVersion: version,
        payload: .vehicleRegistered(EventsV1.VehicleRegistered(vehicleId: aggregate, make: "Test"))
    )
}

func count(_ pool: PostgresPool, _ sql: SQL) async throws -> Int {
    try await pool.query(sql).single().decode(Int.self, at: 0)
}

/// Records every delivery in demo.seen, inside the delivery's transaction.
func recordingConsumer(_ bus: EventBus, _ name: String, _ patterns: EventPattern...) {
    bus.consume(patterns, as: name) { event, work in
        try await work.query("""
            INSERT INTO demo.seen (consumer, event_id, aggregate_id, aggregate_version)
            VALUES (\(name), \(event.eventId)::uuid, \(event.aggregateId), \(event.aggregateVersion))
            """)
    }
}

/// Publishes versions 1...`versions` of `aggregates` vehicle aggregates (`prefix0`, `prefix1`, ...),
/// one event per transaction, one concurrent writer per aggregate.
func publishVersions(_ bus: EventBus, aggregates: Int, versions: Int, prefix: String) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for aggregate in 0..<aggregates {
            group.addTask {
                for version in 1...versions {
                    try await bus.transaction(.system()) { try await $0.publish(vehicleEvent("\(prefix)\(aggregate)", version: Int64(version))) }
                }
            }
        }
        try await group.waitForAll()
    }
}

/// Expects `demo.seen` to hold `total` deliveries, none of them twice, with each consumer having
/// seen each aggregate's versions one after another (no gap, nothing out of order).
func expectDeliveredOnceInSequence(_ pool: PostgresPool, total: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    #expect(try await count(pool, "SELECT count(*)::int FROM demo.seen") == total, sourceLocation: sourceLocation)
    let distinct = try await count(pool, "SELECT count(*)::int FROM (SELECT DISTINCT consumer, event_id FROM demo.seen) AS d")
    #expect(distinct == total, "no duplicates", sourceLocation: sourceLocation)
    let disorder = try await count(pool, """
        SELECT count(*)::int FROM (
            SELECT aggregate_version <> lag(aggregate_version) OVER (PARTITION BY consumer, aggregate_id ORDER BY id) + 1 AS skipped
            FROM demo.seen) AS s WHERE skipped
        """)
    #expect(disorder == 0, "each consumer saw each aggregate's versions one after another, in order", sourceLocation: sourceLocation)
}

/// Runs a relay until `done` holds (checked every 50 ms) or 30 s pass.
func relayUntil(_ bus: EventBus, options: EventRelay.Options = fastOptions, _ done: @escaping @Sendable () async throws -> Bool) async throws -> Bool {
    var logger = Logger(label: "relay-test")
    logger.logLevel = .critical
    let relay = EventRelay(bus: bus, options: options, logger: logger)
    return try await withThrowingTaskGroup(of: Bool.self) { group in
        group.addTask {
            await relay.run()
            return false
        }
        let started = ContinuousClock.now
        var finished = false
        while ContinuousClock.now - started < .seconds(30) {
            if try await done() {
                finished = true
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        group.cancelAll()
        return finished
    }
}

let fastOptions: EventRelay.Options = {
    var options = EventRelay.Options()
    options.firstRetryDelay = .milliseconds(20)
    options.maximumRetryDelay = .milliseconds(200)
    options.maximumAttempts = 3
    options.pollInterval = .milliseconds(100)
    return options
}()

struct Veto: Error {}
