@testable import AuditContext
import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarTestSupport
import Logging
import Testing

/// A database migrated by a role like production's application role (not a superuser, owner
/// of its database), the pool of that role, and the superuser's pool.
func applicationDatabase() async throws -> (app: PostgresPool, superuser: PostgresPool) {
    let (superuser, conninfo) = try await TestDatabase.fresh()
    let role = "app_" + UUID().uuidString.prefix(8).lowercased()
    let database = try await superuser.query("SELECT current_database() AS name").single().decode(String.self, "name")
    try await superuser.query(SQL(stringLiteral: "CREATE ROLE \(role) LOGIN"))
    try await superuser.query(SQL(stringLiteral: "ALTER DATABASE \(database) OWNER TO \(role)"))
    try await superuser.query(SQL(stringLiteral: "ALTER SCHEMA public OWNER TO \(role)"))
    let appConninfo = conninfo.replacingOccurrences(of: "user=\(EmbeddedPostgres.superuser)", with: "user=\(role)")
    var configuration = PostgresPool.Configuration(connectionString: appConninfo)
    configuration.acquireTimeout = .seconds(30)
    let app = PostgresPool(configuration: configuration)
    try await MigrationRunner.migrate(KernelMigrations.platform + Audit.migrations, pool: app)
    return (app, superuser)
}

func environment(_ bus: EventBus) -> ContextEnvironment {
    var logger = Logger(label: "audit-test")
    logger.logLevel = .critical
    return ContextEnvironment(bus: bus, pages: PageTokens(), logger: logger)
}

func auditRelay(_ bus: EventBus) -> EventRelay {
    var logger = Logger(label: "audit-relay")
    logger.logLevel = .critical
    var options = EventRelay.Options()
    options.fanOutInterval = .milliseconds(50)
    options.pollInterval = .milliseconds(100)
    options.pruneInterval = nil
    return EventRelay(bus: bus, options: options, logger: logger)
}

func event(_ aggregate: String, version: Int64, type: String = "vehicle.registered") -> EventDraft {
    EventDraft(
        type, aggregateType: "vehicle", aggregateID: aggregate, aggregateVersion: version,
        payload: .vehicleRegistered(EventsV1.VehicleRegistered(vehicleId: aggregate, make: "Test"))
    )
}

func count(_ pool: PostgresPool, _ sql: SQL) async throws -> Int {
    try await pool.query(sql).single().decode(Int.self, at: 0)
}

/// Waits (at most 60 s) until `done`.
func eventually(_ done: () async throws -> Bool) async throws -> Bool {
    let started = ContinuousClock.now
    while ContinuousClock.now - started < .seconds(60) {
        if try await done() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return false
}

@Suite("Audit: one immutable, chained record per event")
struct AuditTrailTests {
    @Test("events published before Audit existed and while two instances consume at once: one record each, one gapless chain, VerifyChain intact")
    func everyEventOnceInOneChain() async throws {
        let (app, superuser) = try await applicationDatabase()
        // History from a server that had no Audit.
        let before = EventBus(pool: app)
        for aggregate in 0..<10 {
            for version in 1...20 {
                try await before.transaction(.system(organizationID: UUID().lowercasedString)) {
                    try await $0.publish(event("h\(aggregate)", version: Int64(version)))
                }
            }
        }
        // Two server processes with Audit, consuming at once while both publish.
        let buses = [EventBus(pool: app), EventBus(pool: app)]
        let audits = buses.map { Audit(environment: environment($0)) }
        let relays = buses.map(auditRelay)
        let running = Task {
            await withTaskGroup(of: Void.self) { group in
                for relay in relays { group.addTask { await relay.run() } }
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    for version in 1...25 {
                        try await buses[writer % 2].transaction(.system()) { try await $0.publish(event("w\(writer)", version: Int64(version))) }
                    }
                }
            }
            try await group.waitForAll()
        }
        let total = 200 + 200
        #expect(try await eventually { try await count(app, "SELECT count(*)::int FROM audit.records") == total })
        running.cancel()
        await running.value
        #expect(try await count(app, "SELECT count(DISTINCT event_id)::int FROM audit.records") == total)
        #expect(try await count(app, "SELECT max(sequence)::int FROM audit.records") == total, "sequence numbers without gaps")
        #expect(try await count(app, """
            SELECT count(*)::int FROM karokar_events.outbox AS o WHERE NOT EXISTS (SELECT 1 FROM audit.records AS r WHERE r.event_id = o.event_id)
            """) == 0, "every event of the outbox has its record")
        let report = try await audits[0].verifyChain(from: nil, to: nil, .system())
        #expect(report.intact && report.recordsChecked == Int64(total) && report.firstBrokenSequence == nil)
        let completeness = try await audits[1].completeness(
            from: Instant(microseconds: 0), to: Instant(microseconds: Int64.max / 2), limit: 10, .system()
        )
        #expect(completeness.complete && completeness.eventsInOutbox == Int64(total))
        await app.close()
        await superuser.close()
    }

    @Test("UPDATE, DELETE and TRUNCATE of audit rows are refused for the application's role (privileges) and for a superuser (the trigger); a row altered by a superuser who disables the trigger is found by VerifyChain")
    func immutableAndTamperEvident() async throws {
        let (app, superuser) = try await applicationDatabase()
        let bus = EventBus(pool: app)
        let audit = Audit(environment: environment(bus))
        for version in 1...10 {
            try await bus.transaction(.system()) { try await $0.publish(event("t", version: Int64(version))) }
        }
        let relay = auditRelay(bus)
        let running = Task { await relay.run() }
        #expect(try await eventually { try await count(app, "SELECT count(*)::int FROM audit.records") == 10 })
        running.cancel()
        await running.value
        let digest: SQL = "SELECT md5(string_agg(r::text, ',' ORDER BY sequence)) AS d FROM audit.records AS r"
        let before = try await app.query(digest).single().decode(String.self, "d")

        for statement: SQL in ["UPDATE audit.records SET entity_id = 'x'", "DELETE FROM audit.records", "TRUNCATE audit.records"] {
            await #expect(throws: PostgresError.self, "the application's role: \(statement)") { try await app.query(statement) }
        }
        do {
            try await app.query("DELETE FROM audit.records WHERE sequence = 1")
            Issue.record("a delete succeeded")
        } catch let error as PostgresError {
            #expect(error.code.rawValue == "42501", "refused by privilege: \(error)")
        }
        for statement: SQL in ["UPDATE audit.records SET entity_id = 'x'", "DELETE FROM audit.records", "TRUNCATE audit.records"] {
            do {
                try await superuser.query(statement)
                Issue.record("a superuser's \(statement) succeeded")
            } catch let error as PostgresError {
                #expect(error.code.rawValue == "23001", "refused by the trigger: \(error)")
            }
        }
        #expect(try await app.query(digest).single().decode(String.self, "d") == before, "nothing changed")
        #expect(try await audit.verifyChain(from: nil, to: nil, .system()).intact)

        // A superuser gets past the trigger and rewrites a record: the chain shows where.
        try await superuser.transaction { session in
            try await session.query("SET LOCAL session_replication_role = replica")
            try await session.query("UPDATE audit.records SET organization_id = gen_random_uuid() WHERE sequence = 4")
        }
        let tampered = try await audit.verifyChain(from: nil, to: nil, .system())
        #expect(!tampered.intact && tampered.firstBrokenSequence == 4 && tampered.failureCode == "HASH_MISMATCH", "\(tampered)")
        #expect(try await audit.verifyChain(from: 5, to: nil, .system()).intact, "the rest of the chain holds")
        // Removing a record breaks the sequence.
        try await superuser.transaction { session in
            try await session.query("SET LOCAL session_replication_role = replica")
            try await session.query("DELETE FROM audit.records WHERE sequence = 7")
        }
        let gap = try await audit.verifyChain(from: 5, to: nil, .system())
        #expect(!gap.intact && gap.firstBrokenSequence == 8 && gap.failureCode == "SEQUENCE_GAP", "\(gap)")
        // Removing the newest one: the head disagrees.
        try await superuser.transaction { session in
            try await session.query("SET LOCAL session_replication_role = replica")
            try await session.query("DELETE FROM audit.records WHERE sequence = 10")
        }
        let tail = try await audit.verifyChain(from: 9, to: nil, .system())
        #expect(!tail.intact && tail.firstBrokenSequence == 10 && tail.failureCode == "SEQUENCE_GAP", "\(tail)")
        await app.close()
        await superuser.close()
    }
}
