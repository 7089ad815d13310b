import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarTestSupport
import Logging
import Testing

/// Batch consumers (``EventBus/consumeBatches(_:as:from:onDeadLetter:_:)``, Audit's): the relay
/// hands them its batches whole; a failing batch is handed over again one event at a time, so a
/// poisoned event goes to dead letters alone and its aggregate waits while the others flow.
@Suite("Event relay: batch consumers")
struct EventBatchConsumerTests {
    /// Records each call's size, and every event in demo.seen (in the batch's transaction).
    static func batchConsumer(_ bus: EventBus, sizes: LockedStrings, poison: String? = nil, healed: LockedStrings = LockedStrings()) {
        bus.consumeBatches("vehicle.*", as: "batcher") { events, work in
            sizes.append("\(events.count)")
            if let poison, healed.all.isEmpty, events.contains(where: { $0.aggregateId == poison && $0.aggregateVersion == 1 }) { throw Veto() }
            for event in events {
                try await work.query("""
                    INSERT INTO demo.seen (consumer, event_id, aggregate_id, aggregate_version)
                    VALUES ('batcher', \(event.eventId)::uuid, \(event.aggregateId), \(event.aggregateVersion))
                    """)
            }
        }
    }

    @Test("the relay hands a batch consumer many events per call, each once, each aggregate in order")
    func batchesWhole() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        let sizes = LockedStrings()
        Self.batchConsumer(bus, sizes: sizes)
        try await publishVersions(bus, aggregates: 8, versions: 10, prefix: "b")  // published before the relay runs
        #expect(try await relayUntil(bus) { try await count(pool, "SELECT count(*)::int FROM demo.seen") == 80 })
        try await expectDeliveredOnceInSequence(pool, total: 80)
        let largest = sizes.all.compactMap(Int.init).max() ?? 0
        #expect(largest > 1, "events came in batches: \(sizes.all)")
        await pool.close()
    }

    @Test("a poisoned event fails its batch; the others are delivered one by one; it alone ends dead, its aggregate waiting; replayed, it is delivered once")
    func poisonedBatch() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        let sizes = LockedStrings()
        let healed = LockedStrings()
        Self.batchConsumer(bus, sizes: sizes, poison: "bad", healed: healed)
        for draft in [vehicleEvent("good", version: 1), vehicleEvent("bad", version: 1), vehicleEvent("bad", version: 2), vehicleEvent("fine", version: 1)] {
            try await bus.transaction(.system()) { try await $0.publish(draft) }
        }
        let settled = try await relayUntil(bus) {
            let dead = try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery WHERE state = 'dead'")
            let seen = try await count(pool, "SELECT count(*)::int FROM demo.seen")
            return dead == 1 && seen == 2
        }
        #expect(settled)
        let seen = try await pool.query("SELECT aggregate_id FROM demo.seen ORDER BY id").map { try $0.decode(String.self, "aggregate_id") }
        #expect(Set(seen) == ["good", "fine"], "the other aggregates flowed; bad's second event waited: \(seen)")
        let letter = try #require(try await DeadLetters(pool: pool).list().first)
        #expect(letter.envelope.aggregateId == "bad" && letter.envelope.aggregateVersion == 1 && letter.attempts == fastOptions.maximumAttempts)
        healed.append("fixed")
        #expect(try await DeadLetters(pool: pool).replay(consumer: "batcher", seq: letter.seq))
        #expect(try await relayUntil(bus) { try await count(pool, "SELECT count(*)::int FROM demo.seen") == 4 })
        try await expectDeliveredOnceInSequence(pool, total: 4)
        await pool.close()
    }

    @Test("an event whose envelope does not decode goes dead at once, not failing every claim; the other events flow")
    func malformedEnvelopeIsDeadAtOnce() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        let sizes = LockedStrings()
        Self.batchConsumer(bus, sizes: sizes)
        try await EventRelay(bus: bus, logger: Logger(label: "unused")).registerConsumers()
        try await bus.transaction(.system()) { try await $0.publish(vehicleEvent("before")) }
        try await pool.query("""
            WITH event AS (
                INSERT INTO karokar_events.outbox (event_id, event_type, aggregate_type, aggregate_id, occurred_at, envelope, known_consumers)
                VALUES (gen_random_uuid(), 'vehicle.registered', 'vehicle', 'garbage', now(), '\\x0a0a0a'::bytea, '{batcher}')
                RETURNING seq
            )
            INSERT INTO karokar_events.delivery (consumer, seq, aggregate_key) SELECT 'batcher', seq, 'vehicle:garbage' FROM event
            """)
        try await bus.transaction(.system()) { try await $0.publish(vehicleEvent("after")) }
        #expect(try await relayUntil(bus) {
            let seen = try await count(pool, "SELECT count(*)::int FROM demo.seen")
            let dead = try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery WHERE state = 'dead' AND attempts = 1")
            return seen == 2 && dead == 1
        })
        let letter = try #require(try await DeadLetters(pool: pool).list(consumer: "batcher").first)
        #expect(letter.envelope.aggregateId == "garbage" && letter.lastError.contains("not a valid EventEnvelope"))
        await pool.close()
    }
}
