import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarTestSupport
import Logging
import NIOConcurrencyHelpers
import Testing

/// The relay's claim leases each aggregate's *run* (events migration 6): its consecutive due
/// deliveries from the first outstanding one, oldest first, up to the batch size, where the claim
/// of migration 4 leased only the first (a claim of 100 carried about ten deliveries under the
/// booking benchmark, Booking's README "Performance"). Order per aggregate, one lease holder per
/// delivery, expired leases and failures must hold as before.
@Suite("Event relay: a claim leases each aggregate's run of due deliveries")
struct RelayRunTests {
    struct Leased: Hashable, CustomStringConvertible {
        let seq: Int64
        let aggregate: String
        let attempts: Int
        var description: String { "\(aggregate)#\(seq)(\(attempts))" }
    }

    /// One call of `karokar_events.claim`, as the relay makes it.
    static func claim(_ pool: PostgresPool, _ consumer: String, limit: Int = 100, lease: String = "30 seconds", owner: String = "test") async throws -> [Leased] {
        try await pool.query("""
            SELECT c.seq, c.attempts, c.aggregate_key FROM karokar_events.claim(\(consumer), \(limit)::int, \(lease)::interval, \(owner)) AS c
            ORDER BY c.seq
            """).map {
            Leased(seq: try $0.decode(Int64.self, "seq"), aggregate: String(try $0.decode(String.self, "aggregate_key").dropFirst("vehicle:".count)),
                   attempts: try $0.decode(Int.self, "attempts"))
        }
    }

    /// The outbox's events of `aggregate`, oldest first.
    static func seqs(_ pool: PostgresPool, _ aggregate: String) async throws -> [Int64] {
        try await pool.query("SELECT seq FROM karokar_events.outbox WHERE aggregate_id = \(aggregate) ORDER BY seq").map { try $0.decode(Int64.self, "seq") }
    }

    static func publish(_ bus: EventBus, _ aggregate: String, _ version: Int) async throws {
        try await bus.transaction(.system()) { try await $0.publish(vehicleEvent(aggregate, version: Int64(version))) }
    }

    /// What a relay's batch transaction does with deliveries it handled: deletes them.
    static func settle(_ pool: PostgresPool, _ consumer: String, _ seqs: [Int64]) async throws {
        try await pool.query("DELETE FROM karokar_events.delivery WHERE consumer = \(consumer) AND seq = ANY(\(seqs)::int8[])")
    }

    /// Wraps `karokar_events.claim` to record, per call, the consumer and the deliveries leased
    /// (demo.claimed); the real claim runs behind it, renamed.
    static func recordClaims(_ pool: PostgresPool) async throws {
        try await pool.query("CREATE TABLE demo.claimed (id bigserial PRIMARY KEY, consumer text NOT NULL, leased int NOT NULL)")
        try await pool.query("ALTER FUNCTION karokar_events.claim(text, int, interval, text) RENAME TO claim_recorded")
        try await pool.query("""
            CREATE FUNCTION karokar_events.claim(p_consumer text, p_limit int, p_lease interval, p_owner text)
                RETURNS TABLE (seq bigint, attempts int, aggregate_key text, envelope bytea) LANGUAGE plpgsql AS $$
            DECLARE
                v_leased int;
            BEGIN
                RETURN QUERY SELECT * FROM karokar_events.claim_recorded(p_consumer, p_limit, p_lease, p_owner);
                GET DIAGNOSTICS v_leased = ROW_COUNT;
                INSERT INTO demo.claimed (consumer, leased) VALUES (p_consumer, v_leased);
            END
            $$
            """)
    }

    @Test("one claim leases every aggregate's consecutive due deliveries, oldest first, up to the limit; later ones wait for the run's settlement")
    func claimsRuns() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        recordingConsumer(bus, "reader", "vehicle.*")
        for version in 1...5 {
            for aggregate in ["a", "b", "c"] { try await Self.publish(bus, aggregate, version) }
        }
        let a = try await Self.seqs(pool, "a"), b = try await Self.seqs(pool, "b"), c = try await Self.seqs(pool, "c")

        let first = try await Self.claim(pool, "reader", limit: 8)
        #expect(first.map(\.seq) == [a[0], b[0], c[0], a[1], b[1], c[1], a[2], b[2]],
                "the eight oldest deliveries, three runs from their heads (the claim before runs leased only a1, b1, c1): \(first)")
        #expect(first.allSatisfy { $0.attempts == 1 })
        #expect(try await Self.claim(pool, "reader").isEmpty, "every aggregate's head is leased: nothing of them until settled")

        // a's run is settled, b's is not; a new event of b arrives meanwhile.
        try await Self.settle(pool, "reader", Array(a.prefix(3)))
        try await Self.publish(bus, "b", 6)
        let second = try await Self.claim(pool, "reader")
        #expect(second.map(\.seq) == [a[3], a[4]], "the rest of a's run, nothing of b or c: \(second)")

        // b's run is settled only in part (b3 is still leased), c's whole.
        try await Self.settle(pool, "reader", Array(b.prefix(2)) + Array(c.prefix(2)) + Array(a.suffix(2)))
        let third = try await Self.claim(pool, "reader")
        #expect(third.map(\.seq) == [c[2], c[3], c[4]], "c's run; b waits for b3: \(third)")
        try await Self.settle(pool, "reader", [b[2]])
        let b6 = try #require(try await Self.seqs(pool, "b").last)
        let fourth = try await Self.claim(pool, "reader")
        #expect(fourth.map(\.seq) == [b[3], b[4], b6], "b's run, with the event published after the first claim: \(fourth)")
        await pool.close()
    }

    @Test("an expired lease makes the whole run due again, with what came meanwhile; a relay still settling it (rows locked) holds back its aggregate")
    func leaseExpiry() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        recordingConsumer(bus, "reader", "vehicle.*")
        for version in 1...3 { try await Self.publish(bus, "a", version) }
        try await Self.publish(bus, "b", 1)
        let first = try await Self.claim(pool, "reader", lease: "400 milliseconds", owner: "dying")
        #expect(first.map(\.aggregate) == ["a", "a", "a", "b"])
        try await Self.publish(bus, "a", 4)
        #expect(try await Self.claim(pool, "reader").isEmpty, "leased: neither the run nor a4 behind it")

        try await Task.sleep(for: .milliseconds(600))
        let a = try await Self.seqs(pool, "a")
        let second = try await Self.claim(pool, "reader", lease: "400 milliseconds", owner: "second")
        #expect(second.filter { $0.aggregate == "a" }.map(\.seq) == a, "the expired run again, and a4: \(second)")
        #expect(second.filter { $0.aggregate == "a" }.map(\.attempts) == [2, 2, 2, 1])
        #expect(try await pool.query("SELECT 1 FROM karokar_events.delivery WHERE leased_by = 'dying'").isEmpty)

        // The second holder is slow: its lease expires while its batch transaction has settled
        // (deleted, not yet committed) a1 and a2. A third claim must not take a3 or a4 past them,
        // though a1 and a2 still look outstanding and due to it, and a3 and a4 are not locked.
        try await Task.sleep(for: .milliseconds(600))
        try await pool.transaction(durable: false) { session in
            try await session.query("DELETE FROM karokar_events.delivery WHERE consumer = 'reader' AND seq = ANY(\(Array(a.prefix(2)))::int8[])")
            let third = try await Self.claim(pool, "reader", owner: "third")
            #expect(third.filter { $0.aggregate == "a" }.isEmpty, "nothing of a while a1 and a2 are being settled: \(third)")
        }
        let fourth = try await Self.claim(pool, "reader", owner: "fourth")
        #expect(fourth.map(\.seq) == Array(a.suffix(2)), "once they are settled, the rest of a's run: \(fourth)")
        await pool.close()
    }

    @Test("a failure mid-run: the events before it are handled, the ones after it wait untried until it succeeds, then all flow in order")
    func failureMidRun() async throws {
        let (pool, _) = try await kernelDatabase()
        try await Self.recordClaims(pool)
        let bus = EventBus(pool: pool)
        let broken = NIOLockedValueBox(true)
        let failures = NIOLockedValueBox(0)
        let calledPastFailure = NIOLockedValueBox(0)  // handler calls for a4 to a6 while a3 fails
        bus.consume("vehicle.*", as: "picky") { event, work in
            if event.aggregateId == "a", event.aggregateVersion > 3, broken.withLockedValue({ $0 }) {
                calledPastFailure.withLockedValue { $0 += 1 }
            }
            if event.aggregateId == "a", event.aggregateVersion == 3, broken.withLockedValue({ $0 }) {
                failures.withLockedValue { $0 += 1 }
                throw Veto()
            }
            try await work.query("""
                INSERT INTO demo.seen (consumer, event_id, aggregate_id, aggregate_version)
                VALUES ('picky', \(event.eventId)::uuid, \(event.aggregateId), \(event.aggregateVersion))
                """)
        }
        // Published before the relay starts: its first claim takes both runs whole.
        for version in 1...6 {
            try await Self.publish(bus, "a", version)
            try await Self.publish(bus, "b", version)
        }
        var options = fastOptions
        options.maximumAttempts = 1000
        options.claimInterval = .zero
        let failing = try await relayUntil(bus, options: options) {
            let seen = try await count(pool, "SELECT count(*)::int FROM demo.seen")
            return failures.withLockedValue { $0 } >= 4 && seen == 8
        }
        #expect(failing)
        #expect(try await count(pool, "SELECT max(leased)::int FROM demo.claimed") == 12, "one claim leased both runs whole")
        let a = try await pool.query("SELECT aggregate_version FROM demo.seen WHERE aggregate_id = 'a' ORDER BY id").map { try $0.decode(Int64.self, "aggregate_version") }
        #expect(a == [1, 2], "a1 and a2 handled; a3 fails; a4 to a6 wait")
        #expect(calledPastFailure.withLockedValue { $0 } == 0, "a4 to a6 never handled while a3 fails")
        // (Each retry of a3 leases a3 to a6 as a run; the relay gives a4 to a6 back untried.)
        let waiting = try await pool.query("""
            SELECT d.attempts, d.state FROM karokar_events.delivery AS d JOIN karokar_events.outbox AS o USING (seq)
            WHERE d.consumer = 'picky' AND o.aggregate_id = 'a' ORDER BY d.seq
            """).map { (try $0.decode(Int.self, "attempts"), try $0.decode(String.self, "state")) }
        #expect(waiting.count == 4 && waiting[0].0 >= 4, "a3 tried again and again: \(waiting)")
        #expect(waiting.dropFirst().allSatisfy { $0.1 == "pending" && $0.0 <= 1 }, "a4 to a6 wait, their attempts not counted: \(waiting)")
        #expect(try await count(pool, "SELECT count(*)::int FROM demo.seen WHERE aggregate_id = 'b'") == 6, "b flowed meanwhile")

        broken.withLockedValue { $0 = false }
        let healed = try await relayUntil(bus, options: options) {
            try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery") == 0
        }
        #expect(healed)
        try await expectDeliveredOnceInSequence(pool, total: 12)
        await pool.close()
    }

    @Test("a backlog of 200 deliveries on 20 aggregates is claimed in two claims of 100, not ten of 20")
    func denseClaims() async throws {
        let (pool, _) = try await kernelDatabase()
        try await Self.recordClaims(pool)
        let bus = EventBus(pool: pool)
        recordingConsumer(bus, "reader", "vehicle.*")
        try await publishVersions(bus, aggregates: 20, versions: 10, prefix: "d")
        var options = fastOptions
        options.workersPerConsumer = 1
        let done = try await relayUntil(bus, options: options) {
            try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery") == 0
        }
        #expect(done)
        try await expectDeliveredOnceInSequence(pool, total: 200)
        let claims = try await pool.query("SELECT leased FROM demo.claimed WHERE leased > 0 ORDER BY id").map { try $0.decode(Int.self, "leased") }
        #expect(claims == [100, 100], "claims that leased anything, and how much: \(claims)")
        await pool.close()
    }

    @Test("two processes' relays (two loops each, small batches, claiming whenever woken) while both publish: each consumer sees each aggregate in order, once")
    func twoRelaysKeepOrder() async throws {
        let (poolA, conninfo) = try await kernelDatabase()
        var configuration = PostgresPool.Configuration(connectionString: conninfo)
        configuration.maximumConnections = 10
        configuration.acquireTimeout = .seconds(30)
        let poolB = PostgresPool(configuration: configuration)
        let buses = [EventBus(pool: poolA), EventBus(pool: poolB)]
        for bus in buses {
            recordingConsumer(bus, "single", "vehicle.*")
            bus.consumeBatches("vehicle.*", as: "batched") { events, work in
                for event in events {
                    try await work.query("""
                        INSERT INTO demo.seen (consumer, event_id, aggregate_id, aggregate_version)
                        VALUES ('batched', \(event.eventId)::uuid, \(event.aggregateId), \(event.aggregateVersion))
                        """)
                }
            }
        }
        var options = fastOptions
        options.batchSize = 10
        options.claimInterval = .zero
        var logger = Logger(label: "relay-run-test")
        logger.logLevel = .critical
        let relays = buses.map { EventRelay(bus: $0, options: options, logger: logger) }
        let running = Task {
            await withTaskGroup(of: Void.self) { group in
                for relay in relays { group.addTask { await relay.run() } }
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for aggregate in 0..<12 {
                group.addTask {
                    for version in 1...30 {
                        try await Self.publish(buses[version % 2], "t\(aggregate)", version)
                    }
                }
            }
            try await group.waitForAll()
        }
        let started = ContinuousClock.now
        while ContinuousClock.now - started < .seconds(30) {
            if try await count(poolA, "SELECT count(*)::int FROM demo.seen") == 720,
               try await count(poolA, "SELECT count(*)::int FROM karokar_events.delivery") == 0 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        running.cancel()
        await running.value
        try await expectDeliveredOnceInSequence(poolA, total: 720)
        await poolB.close()
        await poolA.close()
    }

    /// Index entries the delivery table's indexes returned so far (flushed by the claims' own
    /// transactions, `pg_stat_force_next_flush`).
    static func entriesRead(_ pool: PostgresPool) async throws -> Int {
        try await pool.query("""
            SELECT coalesce(sum(idx_tup_read), 0)::int8 AS n FROM pg_stat_user_indexes WHERE schemaname = 'karokar_events' AND relname = 'delivery'
            """).single().decode(Int.self, "n")
    }

    @Test("a claim 3,000 deliveries behind, planned on statistics taken while the queue was empty, probes each candidate's aggregate by index: it reads the candidates' aggregates, not the backlog")
    func claimPlanIgnoresStaleStatistics() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        recordingConsumer(bus, "reader", "vehicle.*")
        try await EventRelay(bus: bus, logger: Logger(label: "unused")).registerConsumers()
        try await pool.query("ANALYZE karokar_events.delivery")
        try await pool.query("ALTER TABLE karokar_events.delivery SET (autovacuum_enabled = false)")
        // 300 aggregates with 10 events each, interleaved; the oldest 100 leased by another relay.
        try await pool.query("""
            INSERT INTO karokar_events.outbox (event_id, event_type, aggregate_type, aggregate_id, occurred_at, envelope, known_consumers)
            SELECT gen_random_uuid(), 'vehicle.registered', 'vehicle', 's' || (g % 300), now(), '\\x00'::bytea, '{reader}'
            FROM generate_series(0, 2999) AS g
            """)
        try await pool.query("""
            INSERT INTO karokar_events.delivery (consumer, seq, aggregate_key)
            SELECT 'reader', seq, aggregate_type || ':' || aggregate_id FROM karokar_events.outbox ORDER BY seq
            """)
        try await pool.query("""
            UPDATE karokar_events.delivery SET available_at = clock_timestamp() + interval '1 minute', attempts = 1, leased_by = 'other'
            WHERE seq IN (SELECT seq FROM karokar_events.outbox ORDER BY seq LIMIT 100)
            """)
        // Each claim leases the next 100 aggregates' heads (their later events wait behind them).
        for round in 1...2 {
            let before = try await Self.entriesRead(pool)
            let leased = try await pool.transaction(durable: false) { session in
                let rows = try await session.query("SELECT count(*)::int AS n FROM karokar_events.claim('reader', 100, '1 minute', 'test')")
                try await session.query("SELECT pg_stat_force_next_flush()")
                return try rows.single().decode(Int.self, "n")
            }
            try await Task.sleep(for: .milliseconds(100))
            let read = try await Self.entriesRead(pool) - before
            #expect(leased == 100, "round \(round)")
            // Walked: the leased rows and the candidates; probed: each candidate's aggregate (10
            // deliveries), twice. A probe through the primary key reads every earlier delivery of
            // the consumer instead: 100 to 300 per candidate.
            #expect(read < 5_000, "round \(round): \(read) index entries read to lease \(leased)")
        }
        await pool.close()
    }
}
