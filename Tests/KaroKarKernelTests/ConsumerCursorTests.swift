import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarTestSupport
import Logging
import Testing

/// Records every delivery in demo.seen, as ``recordingConsumer(_:_:_:)``, with a start position.
private func recording(_ bus: EventBus, _ name: String, from start: ConsumerStart, _ pattern: EventPattern = "*") {
    bus.consume(pattern, as: name, from: start) { event, work in
        try await work.query("""
            INSERT INTO demo.seen (consumer, event_id, aggregate_id, aggregate_version)
            VALUES (\(name), \(event.eventId)::uuid, \(event.aggregateId), \(event.aggregateVersion))
            """)
    }
}

private func seen(_ pool: PostgresPool, _ consumer: String) async throws -> Int {
    try await count(pool, "SELECT count(*)::int FROM demo.seen WHERE consumer = \(consumer)")
}

private func relay(_ bus: EventBus, _ options: EventRelay.Options = cursorOptions) -> EventRelay {
    var logger = Logger(label: "cursor-test")
    logger.logLevel = .critical
    return EventRelay(bus: bus, options: options, logger: logger)
}

private let cursorOptions: EventRelay.Options = {
    var options = fastOptions
    options.fanOutInterval = .milliseconds(50)
    options.pruneInterval = nil
    return options
}()

@Suite("Event consumers that cannot miss or stall: cursors, fan-out, the horizon, dead letters, retention")
struct ConsumerCursorTests {
    @Test("a consumer registered after 1,000 events were published receives all 1,000, once each, in order per aggregate")
    func lateConsumerCatchesUp() async throws {
        let (pool, _) = try await kernelDatabase()
        // The events are published by a process that knows no consumer at all.
        let before = EventBus(pool: pool)
        try await publishVersions(before, aggregates: 20, versions: 50, prefix: "early")
        #expect(try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery") == 0, "nobody knew the consumer")

        let later = EventBus(pool: pool)
        recording(later, "late", from: .beginning)
        recording(later, "fresh", from: .now)
        let done = try await relayUntil(later, options: cursorOptions) {
            let late = try await seen(pool, "late")
            let outstanding = try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery")
            return late == 1000 && outstanding == 0
        }
        #expect(done)
        #expect(try await seen(pool, "fresh") == 0, "a consumer starting now skips what came before it")
        try await expectDeliveredOnceInSequence(pool, total: 1000)
        let lag = try await EventConsumers(pool: pool).lag()
        #expect(lag.map(\.consumer) == ["fresh", "late"])
        #expect(lag.allSatisfy { $0.pending == 0 && $0.dead == 0 && $0.onDeadLetter == .wait })
        await pool.close()
    }

    @Test("a rolling deploy: old and new processes publish the same aggregates while two relays of the new one deliver; nothing missed, nothing twice, in order")
    func rollingDeployWithTwoRelays() async throws {
        let (pool, _) = try await kernelDatabase()
        let old = EventBus(pool: pool)  // does not know "audit"
        recordingConsumer(old, "legacy", "vehicle.*")
        let new = EventBus(pool: pool)
        recordingConsumer(new, "legacy", "vehicle.*")
        recording(new, "audit", from: .beginning)
        // Some history before the new version exists.
        try await publishVersions(old, aggregates: 4, versions: 10, prefix: "r")
        var options = cursorOptions
        options.batchSize = 9
        let relays = [relay(new, options), relay(new, options)]
        let running = Task {
            await withTaskGroup(of: Void.self) { group in
                for relay in relays { group.addTask { await relay.run() } }
            }
        }
        // Then both versions publish, alternating on each aggregate, while the relays deliver.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for aggregate in 0..<4 {
                group.addTask {
                    for version in 11...60 {
                        let bus = version.isMultiple(of: 2) ? new : old
                        try await bus.transaction(.system()) { try await $0.publish(vehicleEvent("r\(aggregate)", version: Int64(version))) }
                    }
                }
            }
            try await group.waitForAll()
        }
        let started = ContinuousClock.now
        while ContinuousClock.now - started < .seconds(30) {
            let audit = try await seen(pool, "audit")
            let legacy = try await seen(pool, "legacy")
            let outstanding = try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery")
            if audit == 240, legacy == 240, outstanding == 0 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        running.cancel()
        await running.value
        try await expectDeliveredOnceInSequence(pool, total: 480)
        await pool.close()
    }

    @Test("the cursor never passes an event taken earlier and committed later (seq commit-order gaps)")
    func horizonWaitsForOpenTransactions() async throws {
        let (pool, _) = try await kernelDatabase()
        let publisher = EventBus(pool: pool)
        let gate = AsyncGate()
        let opened = AsyncGate()
        // Takes its seq first, then stays open.
        let slow = Task {
            try await publisher.transaction(.system()) { work in
                try await work.publish(vehicleEvent("slow", version: 1))
                try await work.query("SELECT 1")  // sends the enqueued outbox insert: the seq is taken
                await opened.open()
                await gate.wait()
            }
        }
        await opened.wait()
        try await publisher.transaction(.system()) { try await $0.publish(vehicleEvent("fast", version: 1)) }
        // Only "fast" is visible; "slow" took the seq before it.
        let slowSeq = try await count(pool, "SELECT min(seq)::int FROM karokar_events.outbox") - 1
        let later = EventBus(pool: pool)
        recording(later, "late", from: .beginning)
        let late = relay(later)
        let running = Task { await late.run() }
        let started = ContinuousClock.now
        while ContinuousClock.now - started < .seconds(2) {
            try await Task.sleep(for: .milliseconds(100))
        }
        let position = try await count(pool, "SELECT position::int FROM karokar_events.consumer WHERE name = 'late'")
        #expect(position < slowSeq, "the cursor waits below the open transaction's seq")
        #expect(try await seen(pool, "late") == 0)
        await gate.open()
        try await slow.value
        let deadline = ContinuousClock.now
        while ContinuousClock.now - deadline < .seconds(20), try await seen(pool, "late") < 2 {
            try await Task.sleep(for: .milliseconds(50))
        }
        running.cancel()
        await running.value
        #expect(try await seen(pool, "late") == 2, "both events, the one committed last included")
        await pool.close()
    }

    @Test("a poisoned event goes dead after the configured attempts while other aggregates flow; 'wait' holds its aggregate, 'proceed' does not; an operator's replay after the fix delivers it once")
    func poisonedEventWaitOrProceed() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        let attempts = LockedStrings()
        let fixed = LockedStrings()
        for (name, policy) in [("chain", DeadLetterPolicy.wait), ("mailer", DeadLetterPolicy.proceed)] {
            bus.consume("vehicle.*", as: name, from: .beginning, onDeadLetter: policy) { event, work in
                if event.aggregateId == "poison", event.aggregateVersion == 1, fixed.all.isEmpty {
                    attempts.append(name)
                    throw Veto()
                }
                try await work.query("""
                    INSERT INTO demo.seen (consumer, event_id, aggregate_id, aggregate_version)
                    VALUES (\(name), \(event.eventId)::uuid, \(event.aggregateId), \(event.aggregateVersion))
                    """)
            }
        }
        try await bus.transaction(.system()) { try await $0.publish(vehicleEvent("poison", version: 1)) }
        try await bus.transaction(.system()) { try await $0.publish(vehicleEvent("poison", version: 2)) }
        try await publishVersions(bus, aggregates: 5, versions: 20, prefix: "healthy")
        let settled = try await relayUntil(bus, options: cursorOptions) {
            let dead = try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery WHERE state = 'dead'")
            let chain = try await seen(pool, "chain")
            let mailer = try await seen(pool, "mailer")
            return dead == 2 && chain == 100 && mailer == 101
        }
        #expect(settled, "other aggregates flowed; 'proceed' delivered the poisoned aggregate's later event")
        #expect(attempts.all.filter { $0 == "chain" }.count == cursorOptions.maximumAttempts)
        #expect(attempts.all.filter { $0 == "mailer" }.count == cursorOptions.maximumAttempts)
        #expect(try await count(pool, "SELECT count(*)::int FROM demo.seen WHERE consumer = 'chain' AND aggregate_id = 'poison'") == 0,
                "'wait': the later event waits behind the dead one")
        let lag = try await EventConsumers(pool: pool).lag()
        #expect(lag.first { $0.consumer == "chain" }?.dead == 1 && lag.first { $0.consumer == "chain" }?.pending == 1)
        #expect(lag.first { $0.consumer == "mailer" }?.dead == 1 && lag.first { $0.consumer == "mailer" }?.pending == 0)
        #expect((lag.first { $0.consumer == "chain" }?.oldestPendingAgeSeconds ?? 0) > 0)

        fixed.append("deployed")
        let letters = try await DeadLetters(pool: pool).list(consumer: "chain")
        #expect(letters.count == 1 && letters[0].envelope.aggregateId == "poison")
        #expect(try await DeadLetters(pool: pool).replay(consumer: "chain", seq: letters[0].seq))
        #expect(try await !DeadLetters(pool: pool).replay(consumer: "chain", seq: letters[0].seq), "replayed once")
        #expect(try await relayUntil(bus, options: cursorOptions) { try await seen(pool, "chain") == 102 })
        let versions = try await pool.query("SELECT aggregate_version FROM demo.seen WHERE consumer = 'chain' AND aggregate_id = 'poison' ORDER BY id")
            .map { try $0.decode(Int64.self, "aggregate_version") }
        #expect(versions == [1, 2], "delivered once, then the event that waited, in order")
        #expect(try await count(pool, "SELECT count(*)::int FROM demo.seen WHERE consumer = 'chain'") == 102)
        await pool.close()
    }

    @Test("a statement a handler queued for the commit fails there: the batch runs again one by one, the failing delivery ends dead, the others flow")
    func queuedStatementFailingAtCommit() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        bus.consume("vehicle.*", as: "queued") { event, work in
            if event.aggregateId == "bad" {
                work.session.enqueue("SELECT 1 / 0")  // fails at the commit, not here
            } else {
                work.session.enqueue("""
                    INSERT INTO demo.seen (consumer, event_id, aggregate_id, aggregate_version)
                    VALUES ('queued', \(event.eventId)::uuid, \(event.aggregateId), \(event.aggregateVersion))
                    """)
            }
        }
        try await bus.transaction(.system()) { try await $0.publish(vehicleEvent("bad", version: 1)) }
        try await publishVersions(bus, aggregates: 3, versions: 10, prefix: "fine")
        let settled = try await relayUntil(bus, options: cursorOptions) {
            let dead = try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery WHERE state = 'dead'")
            let seen = try await seen(pool, "queued")
            return dead == 1 && seen == 30
        }
        #expect(settled)
        let letter = try #require(try await DeadLetters(pool: pool).list().first)
        #expect(letter.envelope.aggregateId == "bad" && letter.attempts == cursorOptions.maximumAttempts)
        try await expectDeliveredOnceInSequence(pool, total: 30)
        await pool.close()
    }

    @Test("retention prunes processed records, old idempotency keys and old outbox events, but keeps every event a lagging consumer still needs")
    func pruningKeepsWhatLaggingConsumersNeed() async throws {
        let (pool, _) = try await kernelDatabase()
        try await publishVersions(EventBus(pool: pool), aggregates: 5, versions: 10, prefix: "p")
        var options = cursorOptions
        options.retention.outbox = .zero
        options.retention.processed = .zero
        options.retention.idempotencyKeys = .seconds(3600)
        try await pool.query("""
            INSERT INTO karokar_kernel.idempotency (scope, key, method, request_hash, created_at) VALUES
            ('s', 'old', '/m', '\\x00', clock_timestamp() - interval '2 hours'), ('s', 'new', '/m', '\\x00', clock_timestamp())
            """)
        let fastBus = EventBus(pool: pool)
        recording(fastBus, "fast", from: .beginning)
        let lagBus = EventBus(pool: pool)
        recording(lagBus, "lagging", from: .beginning)
        try await relay(lagBus, options).registerConsumers()  // registered, not running yet
        #expect(try await relayUntil(fastBus, options: options) { try await seen(pool, "fast") == 50 })
        let fastRelay = relay(fastBus, options)
        _ = try await fastRelay.pruneOnce()
        #expect(try await count(pool, "SELECT count(*)::int FROM karokar_events.outbox") == 50, "the lagging consumer needs them all")
        #expect(try await count(pool, "SELECT count(*)::int FROM karokar_events.processed") == 0, "processed records past their window")
        #expect(try await count(pool, "SELECT count(*)::int FROM karokar_kernel.idempotency") == 1, "only the key past its window")

        #expect(try await relayUntil(lagBus, options: options) {
            let lagging = try await seen(pool, "lagging")
            let outstanding = try await count(pool, "SELECT count(*)::int FROM karokar_events.delivery")
            return lagging == 50 && outstanding == 0
        })
        try await expectDeliveredOnceInSequence(pool, total: 100)
        // Both cursors are past everything once the horizon is: now the outbox can go.
        let cleared = try await relayUntil(lagBus, options: options) {
            _ = try await fastRelay.pruneOnce()
            return try await count(pool, "SELECT count(*)::int FROM karokar_events.outbox") == 0
        }
        #expect(cleared)
        // Append-only still holds for everyone but the pruning function.
        await #expect(throws: PostgresError.self) { try await pool.query("DELETE FROM karokar_events.outbox") }
        await pool.close()
    }

    @Test("two processes pruning at once: one pass runs, the other skips")
    func pruningIsExclusive() async throws {
        let (pool, _) = try await kernelDatabase()
        let relay = relay(EventBus(pool: pool))
        try await pool.transaction { session in
            _ = try await session.query("SELECT pg_advisory_xact_lock(\(0x6b6b_6576_7072_6e65 as Int64)::int8)")
            #expect(try await relay.pruneOnce() == nil, "another process holds the pass")
        }
        #expect(try await relay.pruneOnce() != nil)
        await pool.close()
    }
}

/// Opens once; waiters before and after pass.
actor AsyncGate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func open() {
        isOpen = true
        waiters.forEach { $0.resume() }
        waiters = []
    }

    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }
}
