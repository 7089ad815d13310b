import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarTestSupport
import Testing

@Suite("Event relay: after-commit delivery, order, retries, dead letters")
struct EventRelayTests {
    @Test("every committed event reaches every matching consumer once, in order per aggregate")
    func deliversInOrder() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        recordingConsumer(bus, "first", "vehicle.*")
        recordingConsumer(bus, "second", "*")
        try await publishVersions(bus, aggregates: 4, versions: 25, prefix: "v")
        let done = try await relayUntil(bus) { try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery") == 0 }
        #expect(done)
        try await expectDeliveredOnceInSequence(pool, total: 200)
        await pool.close()
    }

    @Test("several delivery loops per consumer, running while publishers commit, keep each aggregate in order and deliver once")
    func concurrentWorkersKeepOrder() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        recordingConsumer(bus, "first", "vehicle.*")
        recordingConsumer(bus, "second", "*")
        var options = fastOptions
        options.workersPerConsumer = 4
        options.batchSize = 7  // many small batches: the loops interleave on every aggregate
        // Published while the relay delivers.
        let publishing = Task { try await publishVersions(bus, aggregates: 6, versions: 40, prefix: "w") }
        let done = try await relayUntil(bus, options: options) {
            let seen = try await count(pool, "SELECT count(*)::int FROM demo.seen")
            guard seen == 480 else { return false }
            return try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery") == 0
        }
        try await publishing.value
        #expect(done)
        try await expectDeliveredOnceInSequence(pool, total: 480)
        await pool.close()
    }

    @Test("a failing handler is retried with backoff, then dead; its aggregate waits; replay delivers it")
    func retriesThenDeadLetter() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        let attempts = LockedStrings()
        let healed = LockedStrings()
        bus.consume("vehicle.*", as: "picky") { event, work in
            if event.aggregateId == "bad", event.aggregateVersion == 1, healed.all.isEmpty {
                attempts.append(event.eventId)
                throw Veto()
            }
            try await work.query("INSERT INTO demo.seen (consumer, event_id, aggregate_id, aggregate_version) VALUES ('picky', \(event.eventId)::uuid, \(event.aggregateId), \(event.aggregateVersion))")
        }
        for draft in [vehicleEvent("bad", version: 1), vehicleEvent("bad", version: 2), vehicleEvent("good", version: 1)] {
            try await bus.transaction(.system()) { try await $0.publish(draft) }
        }
        let settled = try await relayUntil(bus) {
            let dead = try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery WHERE state = 'dead'")
            let seen = try await count(pool, "SELECT count(*)::int FROM demo.seen")
            return dead == 1 && seen == 1
        }
        #expect(settled)
        #expect(attempts.all.count == fastOptions.maximumAttempts, "tried exactly maximumAttempts times")
        let seen = try await pool.query("SELECT aggregate_id FROM demo.seen").map { try $0.decode(String.self, "aggregate_id") }
        #expect(seen == ["good"], "the other aggregate flowed; the failed one's later event waited")

        let letters = try await DeadLetters(pool: pool).list()
        #expect(letters.count == 1 && letters[0].consumer == "picky" && letters[0].envelope.aggregateId == "bad")
        #expect(letters[0].lastError.contains("Veto"))
        healed.append("fixed")
        #expect(try await DeadLetters(pool: pool).replay(consumer: "picky", seq: letters[0].seq))
        let replayed = try await relayUntil(bus) { try await count(pool, "SELECT count(*)::int FROM demo.seen") == 3 }
        #expect(replayed)
        let versions = try await pool.query("SELECT aggregate_version FROM demo.seen WHERE aggregate_id = 'bad' ORDER BY id").map { try $0.decode(Int64.self, "aggregate_version") }
        #expect(versions == [1, 2], "replayed in order")
        #expect(try await DeadLetters(pool: pool).list().isEmpty)
        await pool.close()
    }

    @Test("a discarded dead letter is never handled, and releases its aggregate")
    func discardDeadLetter() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        bus.consume("vehicle.*", as: "strict") { event, work in
            if event.aggregateVersion == 1 { throw Veto() }
            try await work.query("INSERT INTO demo.seen (consumer, event_id, aggregate_id, aggregate_version) VALUES ('strict', \(event.eventId)::uuid, \(event.aggregateId), \(event.aggregateVersion))")
        }
        for version in [Int64(1), 2] {
            try await bus.transaction(.system()) { try await $0.publish(vehicleEvent("x", version: version)) }
        }
        #expect(try await relayUntil(bus) { try await !DeadLetters(pool: pool).list().isEmpty })
        let letter = try #require(try await DeadLetters(pool: pool).list().first)
        #expect(try await DeadLetters(pool: pool).discard(consumer: "strict", seq: letter.seq))
        #expect(try await !DeadLetters(pool: pool).discard(consumer: "strict", seq: letter.seq), "only once")
        #expect(try await relayUntil(bus) { try await count(pool, "SELECT count(*)::int FROM demo.seen") == 1 })
        #expect(try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery") == 0)
        await pool.close()
    }

    @Test("a delivery handled twice (an expired lease) takes effect once")
    func deduplicatesOnEventID() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        recordingConsumer(bus, "once", "*")
        let event = try await bus.transaction(.system()) { try await $0.publish(vehicleEvent("d")) }
        // The event was processed once already; its delivery row came back (a lease another relay outlived).
        try await pool.query("INSERT INTO karokar_events.processed (consumer, event_id) VALUES ('once', \(event.eventId)::uuid)")
        #expect(try await relayUntil(bus) { try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery") == 0 })
        #expect(try await count(pool, "SELECT count(*)::int FROM demo.seen") == 0, "the handler did not run again")
        await pool.close()
    }
}
