import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarTestSupport
import Logging
import Synchronization
import Testing

/// Log consumers (``EventBus/consumeLog(_:as:from:_:)``, events migration 8): they read the outbox
/// in `seq` order up to the horizon, their cursor moving with their handler's writes; publishing
/// writes no delivery for them.
/// How many more steps a handler fails.
final class Failures: Sendable {
    let left: Mutex<Int>
    init(_ left: Int) { self.left = Mutex(left) }
}

@Suite("Event relay: log consumers")
struct OutboxLogTests {
    /// Records each event it is handed in demo.seen (skipping one it recorded already when
    /// `idempotent`), in the step's transaction.
    static func logReader(
        _ bus: EventBus, _ name: String, idempotent: Bool = false, failing: Failures? = nil, failure: any Error & Sendable = Veto()
    ) {
        bus.consumeLog("vehicle.*", as: name, from: .beginning) { events, work in
            if let failing, failing.left.withLock({ left in
                defer { left = max(0, left - 1) }
                return left > 0
            }) {
                throw failure
            }
            for event in events {
                try await work.query("""
                    INSERT INTO demo.seen (consumer, event_id, aggregate_id, aggregate_version)
                    SELECT \(name), \(event.eventId)::uuid, \(event.aggregateId), \(event.aggregateVersion)
                    WHERE NOT (\(idempotent)::boolean AND EXISTS (SELECT 1 FROM demo.seen WHERE consumer = \(name) AND event_id = \(event.eventId)::uuid))
                    """)
            }
        }
    }

    static func relay(_ bus: EventBus) -> EventRelay {
        var logger = Logger(label: "log-test")
        logger.logLevel = .critical
        var options = fastOptions
        options.logInterval = .milliseconds(20)
        options.logBatchSize = 7  // several steps per test
        return EventRelay(bus: bus, options: options, logger: logger)
    }

    /// Events seen out of the outbox's order (0 when each was seen after every earlier one).
    static func outOfOrder(_ pool: PostgresPool) async throws -> Int {
        try await count(pool, """
            SELECT count(*)::int FROM (
                SELECT o.seq < lag(o.seq) OVER (ORDER BY s.id) AS back
                FROM demo.seen AS s JOIN karokar_events.outbox AS o USING (event_id)) AS x
            WHERE back
            """)
    }

    @Test("two processes read one log while others publish: every matching event once, in seq order; other types skipped; no delivery row written for it")
    func everyEventOnceInOrder() async throws {
        let (pool, _) = try await kernelDatabase()
        let buses = [EventBus(pool: pool), EventBus(pool: pool)]
        for bus in buses { Self.logReader(bus, "reader") }
        try await publishVersions(buses[0], aggregates: 4, versions: 5, prefix: "early")  // before any relay
        let relays = buses.map(Self.relay)
        let running = Task {
            await withTaskGroup(of: Void.self) { group in
                for relay in relays { group.addTask { await relay.run() } }
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<6 {
                group.addTask {
                    for version in 1...10 {
                        try await buses[writer % 2].transaction(.system()) { work in
                            try await work.publish(vehicleEvent("w\(writer)", version: Int64(version)))
                            try await work.publish(vehicleEvent("w\(writer)", version: Int64(version), type: "booking.created"))
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        var done = false
        let started = ContinuousClock.now
        while !done, ContinuousClock.now - started < .seconds(30) {
            done = try await count(pool, "SELECT count(*)::int FROM demo.seen") >= 80
            if !done { try await Task.sleep(for: .milliseconds(50)) }
        }
        // The cursor reaches the head (the last events are booking.created, not handed over) once
        // the horizon has passed them; a duplicate would show meanwhile.
        let head = try await count(pool, "SELECT max(seq)::int FROM karokar_events.outbox")
        var position = 0
        while position < head, ContinuousClock.now - started < .seconds(30) {
            position = try await count(pool, "SELECT position::int FROM karokar_events.consumer WHERE name = 'reader' AND reads = 'log'")
            if position < head { try await Task.sleep(for: .milliseconds(50)) }
        }
        running.cancel()
        await running.value
        #expect(done)
        #expect(position == head, "the cursor reached the head")
        try await expectDeliveredOnceInSequence(pool, total: 80)
        #expect(try await Self.outOfOrder(pool) == 0, "seen in the outbox's order")
        #expect(try await count(pool, "SELECT count(*)::int FROM demo.seen WHERE aggregate_id LIKE 'w%'") == 60, "booking.* was not handed over")
        #expect(try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery") == 0)
        #expect(try await count(pool, "SELECT count(*)::int FROM karokar_events.outbox WHERE 'reader' = ANY (known_consumers)") == 0)
        await pool.close()
    }

    @Test("a log step's afterCommit actions run once it commits; a step that failed runs none (its events, read again, run theirs once)")
    func afterCommitOfLogSteps() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        let ran = LockedStrings()
        let failing = Failures(1)
        bus.consumeLog("vehicle.*", as: "after", from: .beginning) { events, work in
            let ids = events.map(\.aggregateId)
            work.afterCommit { for id in ids { ran.append(id) } }
            if failing.left.withLock({ left in
                defer { left = max(0, left - 1) }
                return left > 0
            }) {
                throw Veto()
            }
        }
        try await publishVersions(bus, aggregates: 5, versions: 1, prefix: "ac")
        let relay = Self.relay(bus)
        let running = Task { await relay.run() }
        #expect(try await RelayClaimTests.eventually { ran.all.count >= 5 })
        try await Task.sleep(for: .milliseconds(200))  // a stray second run would show by now
        running.cancel()
        await running.value
        #expect(failing.left.withLock { $0 } == 0, "the first step failed")
        #expect(ran.all.sorted() == (0..<5).map { "ac\($0)" }, "each event's action once, none for the failed step")
        await pool.close()
    }

    @Test("the database unavailable (a connection failure): the step writes nothing and the log waits, then every event is seen once, in order")
    func unavailableWaitsThenRecovers() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        let failing = Failures(1_000_000)
        Self.logReader(bus, "reader", failing: failing, failure: PostgresError(code: .connectionFailure, serverMessage: "down"))
        try await publishVersions(bus, aggregates: 3, versions: 4, prefix: "f")
        let relay = Self.relay(bus)
        let running = Task { await relay.run() }
        try await Task.sleep(for: .milliseconds(600))  // several failed steps (fastOptions retries within 200 ms)
        #expect(try await count(pool, "SELECT count(*)::int FROM demo.seen") == 0)
        #expect(try await count(pool, "SELECT position::int FROM karokar_events.consumer WHERE name = 'reader'") == 0, "the cursor did not move")
        #expect(try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery") == 0, "nothing parked")
        failing.left.withLock { $0 = 0 }
        #expect(try await Self.until(pool, seen: 12))
        running.cancel()
        await running.value
        try await expectDeliveredOnceInSequence(pool, total: 12)
        #expect(try await Self.outOfOrder(pool) == 0)
        await pool.close()
    }

    @Test("a poison event (a malformed envelope, or one its handler refuses) is parked as a dead letter and the log goes on; replayed once healed, it is handled once")
    func poisonIsParked() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        let poisoned = Failures(1)  // 1: the handler refuses aggregate "bad"
        bus.consumeLog("vehicle.*", as: "reader", from: .beginning) { events, work in
            if poisoned.left.withLock({ $0 }) > 0, events.contains(where: { $0.aggregateId == "bad" }) { throw Veto() }
            for event in events {
                try await work.query("""
                    INSERT INTO demo.seen (consumer, event_id, aggregate_id, aggregate_version)
                    VALUES ('reader', \(event.eventId)::uuid, \(event.aggregateId), \(event.aggregateVersion))
                    """)
            }
        }
        for aggregate in ["a", "bad", "b"] {
            try await bus.transaction(.system()) { try await $0.publish(vehicleEvent(aggregate)) }
        }
        // An event whose envelope is not a protobuf EventEnvelope (written by hand).
        try await pool.query("""
            INSERT INTO karokar_events.outbox (event_id, event_type, aggregate_type, aggregate_id, occurred_at, envelope)
            VALUES (gen_random_uuid(), 'vehicle.registered', 'vehicle', 'garbage', now(), '\\x0a0a0a'::bytea)
            """)
        try await bus.transaction(.system()) { try await $0.publish(vehicleEvent("c")) }
        let relay = Self.relay(bus)
        let running = Task { await relay.run() }
        #expect(try await Self.until(pool, seen: 3), "a, b and c flowed past the two poisons")
        let letters = try await DeadLetters(pool: pool).list(consumer: "reader")
        #expect(letters.count == 2, "\(letters)")
        let bad = try #require(try await pool.query("""
            SELECT d.seq FROM karokar_events.delivery AS d JOIN karokar_events.outbox AS o USING (seq) WHERE o.aggregate_id = 'bad' AND d.state = 'dead'
            """).first { _ in true }).decode(Int64.self, "seq")
        poisoned.left.withLock { $0 = 0 }
        #expect(try await DeadLetters(pool: pool).replay(consumer: "reader", seq: bad))
        #expect(try await Self.until(pool, seen: 4), "the replayed one was handled by the consumer's deliveries loop")
        try await Task.sleep(for: .milliseconds(200))
        running.cancel()
        await running.value
        #expect(try await count(pool, "SELECT count(*)::int FROM demo.seen") == 4)
        #expect(try await count(pool, "SELECT count(DISTINCT event_id)::int FROM demo.seen") == 4)
        #expect(try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery WHERE state = 'dead'") == 1, "the garbage stays parked")
        let head = try await count(pool, "SELECT max(seq)::int FROM karokar_events.outbox")
        #expect(try await count(pool, "SELECT position::int FROM karokar_events.consumer WHERE name = 'reader'") == head)
        await pool.close()
    }

    /// Waits (at most 30 s) until demo.seen has `seen` rows.
    static func until(_ pool: PostgresPool, seen: Int) async throws -> Bool {
        let started = ContinuousClock.now
        while ContinuousClock.now - started < .seconds(30) {
            if try await count(pool, "SELECT count(*)::int FROM demo.seen") >= seen { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    @Test("a consumer that took deliveries and now reads the log misses nothing: it re-reads from its oldest pending delivery, whose rows go; its dead letter stays")
    func switchFromDeliveries() async throws {
        let (pool, _) = try await kernelDatabase()
        let before = EventBus(pool: pool)
        recordingConsumer(before, "switcher", "vehicle.*")
        var logger = Logger(label: "log-test")
        logger.logLevel = .critical
        try await EventRelay(bus: before, options: fastOptions, logger: logger).registerConsumers()
        for version in 1...10 {
            try await before.transaction(.system()) { try await $0.publish(vehicleEvent("s", version: Int64(version))) }
        }
        #expect(try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery WHERE consumer = 'switcher'") == 10)
        // The first four were handled while the consumer took deliveries.
        try await pool.query("""
            WITH handled AS (
                DELETE FROM karokar_events.delivery WHERE consumer = 'switcher'
                AND seq IN (SELECT seq FROM karokar_events.delivery WHERE consumer = 'switcher' ORDER BY seq LIMIT 4)
                RETURNING seq
            )
            INSERT INTO demo.seen (consumer, event_id, aggregate_id, aggregate_version)
            SELECT 'switcher', o.event_id, o.aggregate_id, o.seq FROM handled JOIN karokar_events.outbox AS o USING (seq)
            """)
        // aggregate_version of those four rows holds their seq; the log's rows hold the version.
        // The fifth is a dead letter: it stays one (for operators), and is not read again.
        try await pool.query("""
            UPDATE karokar_events.delivery SET state = 'dead', attempts = 3, last_error = 'test'
            WHERE consumer = 'switcher' AND seq = (SELECT min(seq) FROM karokar_events.delivery WHERE consumer = 'switcher')
            """)
        // Every delivery is written, so the cursor stands at the head (as the fan-out leaves it).
        try await pool.query("UPDATE karokar_events.consumer SET position = (SELECT max(seq) FROM karokar_events.outbox) WHERE name = 'switcher'")
        let after = EventBus(pool: pool)
        Self.logReader(after, "switcher", idempotent: true)
        let relay = Self.relay(after)
        let running = Task { await relay.run() }
        var done = false
        let started = ContinuousClock.now
        while !done, ContinuousClock.now - started < .seconds(30) {
            let seen = try await count(pool, "SELECT count(*)::int FROM demo.seen")
            let left = try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery WHERE state = 'pending'")
            done = seen >= 9 && left == 0
            if !done { try await Task.sleep(for: .milliseconds(50)) }
        }
        try await Task.sleep(for: .milliseconds(200))
        running.cancel()
        await running.value
        #expect(done)
        #expect(try await count(pool, "SELECT count(DISTINCT event_id)::int FROM demo.seen") == 9, "no event missed but the dead one")
        #expect(try await count(pool, "SELECT count(*)::int FROM demo.seen") == 9, "none twice")
        #expect(try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery WHERE consumer = 'switcher' AND state = 'dead'") == 1)
        #expect(try await count(pool, "SELECT count(*)::int FROM karokar_events.consumer WHERE name = 'switcher' AND reads = 'log'") == 1)
        await pool.close()
    }

    @Test("a long writing transaction in another database of the cluster does not hold the log back (events migration 10)")
    func otherDatabasesDoNotHoldTheHorizon() async throws {
        let (pool, _) = try await kernelDatabase()
        let (other, _) = try await TestDatabase.fresh(maximumConnections: 2)
        let opened = AsyncGate()
        let release = AsyncGate()
        // Another database's transaction with a transaction id, open while the log is read.
        let holding = Task {
            try await other.transaction { session in
                try await session.query("SELECT pg_current_xact_id()")
                await opened.open()
                await release.wait()
            }
        }
        await opened.wait()
        let bus = EventBus(pool: pool)
        Self.logReader(bus, "reader")
        let relay = Self.relay(bus)
        let running = Task { await relay.run() }
        try await publishVersions(bus, aggregates: 2, versions: 3, prefix: "a")
        // Before the migration the horizon waited for the other database's transaction: nothing
        // was read until it ended.
        let started = ContinuousClock.now
        var seen = 0
        while seen < 6, ContinuousClock.now - started < .seconds(10) {
            seen = try await count(pool, "SELECT count(*)::int FROM demo.seen")
            if seen < 6 { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(seen == 6, "read while the other database's transaction is open")
        await release.open()
        try await holding.value
        running.cancel()
        await running.value
        try await expectDeliveredOnceInSequence(pool, total: 6)
        await pool.close()
        await other.close()
    }

    @Test("a publishing commit wakes the log readers, this process's at once and another process's by NOTIFY: read long before the poll interval")
    func commitsWakeTheReaders() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        let elsewhere = EventBus(pool: pool)  // another process: publishes, no relay, its own notifier
        Self.logReader(bus, "reader")
        var logger = Logger(label: "log-test")
        logger.logLevel = .critical
        var options = fastOptions
        options.pollInterval = .seconds(60)  // no poll within the test: only a wake-up reads
        options.logInterval = .milliseconds(20)
        let relay = EventRelay(bus: bus, options: options, logger: logger)
        let running = Task { await relay.run() }
        let notifying = Task { await elsewhere.runNotifier() }
        func readWithin(_ limit: Duration, _ expected: Int) async throws -> Bool {
            let started = ContinuousClock.now
            while ContinuousClock.now - started < limit {
                if try await count(pool, "SELECT count(*)::int FROM demo.seen") >= expected { return true }
                try await Task.sleep(for: .milliseconds(20))
            }
            return false
        }
        try await Task.sleep(for: .seconds(1))  // the reader's first step is over: it waits for a bell
        try await bus.transaction(.system()) { try await $0.publish(vehicleEvent("here")) }
        // Within 20 s, a third of the 60-s poll: a wake-up, not a poll. (It missed about one run
        // in five, even with 20 s: a ring racing the reader's wait was lost, DoorbellTests.)
        let here = try await readWithin(.seconds(20), 1)
        try await elsewhere.transaction(.system()) { try await $0.publish(vehicleEvent("there")) }
        let there = try await readWithin(.seconds(20), 2)
        running.cancel()
        notifying.cancel()
        await running.value
        await notifying.value
        #expect(here, "this process's commit did not wake its log reader")
        #expect(there, "another process's commit (its NOTIFY) did not wake the log reader")
        try await expectDeliveredOnceInSequence(pool, total: 2)
        await pool.close()
    }
}
