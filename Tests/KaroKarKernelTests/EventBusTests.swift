import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarProto
import KaroKarTestSupport
import Testing

@Suite("Event bus: units of work, in-transaction reactions, outbox")
struct EventBusTests {
    @Test("a unit of work that throws leaves nothing behind: no rows, no events, no deliveries")
    func throwingUnitOfWork() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        recordingConsumer(bus, "audit_like", "*")
        await #expect(throws: Veto.self) {
            try await bus.transaction(.system()) { work in
                try await work.query("INSERT INTO demo.item VALUES ('a', 'written')")
                try await work.publish(vehicleEvent("a"))
                throw Veto()
            }
        }
        #expect(try await count(pool, "SELECT count(*)::int FROM demo.item") == 0)
        #expect(try await count(pool, "SELECT count(*)::int FROM karokar_events.outbox") == 0)
        #expect(try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery") == 0)
        await pool.close()
    }

    @Test("afterCommit: runs once the unit of work commits; not when it fails; only the retried attempt's after a serialization failure")
    func afterCommitActions() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        let ran = LockedStrings()
        try await bus.transaction(.system()) { work in
            try await work.query("INSERT INTO demo.item VALUES ('c', 'committed')")
            work.afterCommit { ran.append("committed") }
        }
        await #expect(throws: Veto.self) {
            try await bus.transaction(.system()) { work in
                work.afterCommit { ran.append("vetoed") }
                throw Veto()
            }
        }
        let attempts = LockedStrings()
        try await bus.transaction(.system()) { work in
            attempts.append("attempt")
            let attempt = attempts.all.count
            work.afterCommit { ran.append("attempt \(attempt)") }
            if attempt == 1 { throw PostgresError(code: .serializationFailure, serverMessage: "could not serialize access (test)") }
        }
        #expect(attempts.all.count == 2)
        #expect(ran.all == ["committed", "attempt 2"])
        await pool.close()
    }

    @Test("a reaction that throws vetoes the publisher: its change and the event are both gone")
    func reactionVeto() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        bus.react(to: "vehicle.registered", as: "reserve") { event, work in
            try await work.query("INSERT INTO demo.item VALUES (\(event.aggregateId + "-reserved"), 'reaction')")
            if event.aggregateId == "taken" { throw Veto() }
        }
        try await bus.transaction(.system()) { work in
            try await work.query("INSERT INTO demo.item VALUES ('free', 'action')")
            try await work.publish(vehicleEvent("free"))
        }
        await #expect(throws: Veto.self) {
            try await bus.transaction(.system()) { work in
                try await work.query("INSERT INTO demo.item VALUES ('taken', 'action')")
                try await work.publish(vehicleEvent("taken"))
            }
        }
        let ids = try await pool.query("SELECT id FROM demo.item ORDER BY id").map { try $0.decode(String.self, "id") }
        #expect(ids == ["free", "free-reserved"])
        #expect(try await count(pool, "SELECT count(*)::int FROM karokar_events.outbox") == 1)
        await pool.close()
    }

    @Test("the outbox is append-only: UPDATE, DELETE and TRUNCATE are refused and change nothing")
    func outboxIsAppendOnly() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        try await bus.transaction(.system()) { try await $0.publish(vehicleEvent("kept")) }
        let attempts: [SQL] = [
            "DELETE FROM karokar_events.outbox", "UPDATE karokar_events.outbox SET seq = seq + 1000",
            "TRUNCATE karokar_events.outbox CASCADE",
        ]
        for statement in attempts {
            await #expect(throws: PostgresError.self, "\(statement.text)") { try await pool.query(statement) }
        }
        let rows = try await pool.query("SELECT seq, aggregate_id FROM karokar_events.outbox")
        #expect(rows.count == 1)
        #expect(try rows.single().decode(String.self, "aggregate_id") == "kept")
        await pool.close()
    }

    @Test("reactions publish in turn, inside the same transaction; a reaction loop is cut off")
    func nestedReactions() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        bus.react(to: "vehicle.registered", as: "activate") { event, work in
            try await work.publish(vehicleEvent(event.aggregateId, version: 2, type: "vehicle.activated"))
        }
        try await bus.transaction(.system()) { try await $0.publish(vehicleEvent("v")) }
        let types = try await pool.query("SELECT event_type FROM karokar_events.outbox ORDER BY seq").map { try $0.decode(String.self, "event_type") }
        #expect(types == ["vehicle.registered", "vehicle.activated"], "the outbox keeps causal order")

        bus.react(to: "vehicle.retired", as: "loop") { event, work in
            try await work.publish(vehicleEvent(event.aggregateId, type: "vehicle.retired"))
        }
        await #expect(throws: EventBusError.self) {
            try await bus.transaction(.system()) { try await $0.publish(vehicleEvent("loop", type: "vehicle.retired")) }
        }
        #expect(try await count(pool, "SELECT count(*)::int FROM karokar_events.outbox") == 2)
        await pool.close()
    }

    @Test("envelopes carry the origin, and one delivery per matching consumer", arguments: [
        ("vehicle.registered", ["by_name", "by_aggregate", "everything"]),
        ("vehicle.retired", ["by_aggregate", "everything"]),
        ("maintenance.scheduled", ["everything"]),
    ])
    func fanOut(eventType: String, expected: [String]) async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        recordingConsumer(bus, "by_name", "vehicle.registered")
        recordingConsumer(bus, "by_aggregate", "vehicle.*")
        recordingConsumer(bus, "everything", "*")
        let origin = EventOrigin(actor: EventsV1.Actor(id: "u-1", type: .user), organizationID: UUID().uuidString.lowercased(), correlationID: "call-7")
        let published = try await bus.transaction(origin) { try await $0.publish(vehicleEvent("v", version: 3, type: eventType)) }
        #expect(published.actor == origin.actor && published.organizationId == origin.organizationID && published.correlationId == "call-7")
        #expect(published.aggregateVersion == 3 && published.version == 1 && published.occurredAt != nil)
        let consumers = try await pool.query("SELECT consumer FROM karokar_events.delivery ORDER BY consumer").map { try $0.decode(String.self, "consumer") }
        #expect(consumers == expected.sorted())
        let stored = try await pool.query("SELECT envelope FROM karokar_events.outbox").single().decode(PostgresBytes.self, "envelope")
        #expect(try EventsV1.EventEnvelope(decoding: stored.bytes) == published, "the outbox stores the envelope losslessly")
        await pool.close()
    }

    @Test("patterns: exact names, aggregate wildcards, everything")
    func patterns() {
        let exact: EventPattern = "booking.approved"
        let aggregate: EventPattern = "booking.*"
        let everything: EventPattern = "*"
        #expect(exact.matches("booking.approved") && !exact.matches("booking.approved_late"))
        #expect(aggregate.matches("booking.approved") && aggregate.matches("booking.cancelled"))
        #expect(!aggregate.matches("bookings.approved") && !aggregate.matches("vehicle.registered"))
        #expect(everything.matches("anything.at_all"))
    }
}

extension EventsV1.EventEnvelope {
    init(decoding bytes: [UInt8]) throws {
        self = try ProtoCodec.decode(EventsV1.EventEnvelope.self, from: bytes)
    }
}
