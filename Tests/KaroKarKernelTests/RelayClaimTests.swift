import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarTestSupport
import Logging
import NIOConcurrencyHelpers
import Testing

/// How often the relay claims (its main cost in PostgreSQL under a stream of commits, Booking's
/// README "Performance"): a commit wakes only the loops of the consumers it wrote deliveries for
/// (the relay's own NOTIFY wakes none), and a loop whose batch was not full claims again no sooner
/// than ``EventRelay/Options/claimInterval`` after its previous claim, so the commits made
/// meanwhile come in one batch; an idle loop still claims at once when woken.
@Suite("Event relay: when it claims")
struct RelayClaimTests {
    /// The calls of `karokar_events.claim` by `consumer` so far (``RelayRunTests/recordClaims(_:)``).
    static func claims(_ pool: PostgresPool, _ consumer: String) async throws -> Int {
        try await count(pool, "SELECT count(*)::int FROM demo.claimed WHERE consumer = \(consumer)")
    }

    /// Runs a relay with `options` while `body` runs.
    static func withRelay(_ bus: EventBus, _ options: EventRelay.Options, _ body: @escaping @Sendable () async throws -> Void) async throws {
        var logger = Logger(label: "relay-claim-test")
        logger.logLevel = .critical
        let relay = EventRelay(bus: bus, options: options, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await relay.run() }
            defer { group.cancelAll() }
            try await body()
        }
    }

    /// Waits (at most 30 s) until `done` holds.
    static func eventually(_ done: @Sendable () async throws -> Bool) async throws -> Bool {
        let started = ContinuousClock.now
        while ContinuousClock.now - started < .seconds(30) {
            if try await done() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    @Test("a commit wakes only the loops of the consumers it wrote deliveries for; the relay's own NOTIFY wakes none")
    func targetedWakeUps() async throws {
        let (pool, _) = try await kernelDatabase()
        try await RelayRunTests.recordClaims(pool)
        let bus = EventBus(pool: pool)
        recordingConsumer(bus, "busy", "vehicle.*")
        recordingConsumer(bus, "idle", "organization.*")
        var options = fastOptions
        options.pollInterval = .seconds(60)  // no poll: every claim after the first is a wake-up's
        options.claimInterval = .zero  // a claim per wake-up, so that a wrong one shows
        try await Self.withRelay(bus, options) {
            // Each loop claims once when it starts (two loops per consumer).
            #expect(try await Self.eventually {
                let idle = try await Self.claims(pool, "idle")
                let busy = try await Self.claims(pool, "busy")
                return idle >= 2 && busy >= 2
            })
            try await Task.sleep(for: .milliseconds(300))
            let idleBefore = try await Self.claims(pool, "idle")
            for version in 1...20 {
                try await bus.transaction(.system()) { try await $0.publish(vehicleEvent("v", version: Int64(version))) }
                try await Task.sleep(for: .milliseconds(20))  // room for the NOTIFY of each commit to come back
            }
            #expect(try await Self.eventually { try await count(pool, "SELECT count(*)::int FROM demo.seen") == 20 })
            try await Task.sleep(for: .milliseconds(500))
            let idle = try await Self.claims(pool, "idle") - idleBefore
            #expect(idle == 0, "the idle consumer's loops were woken \(idle) times by 20 commits that had nothing for them")
            #expect(try await Self.claims(pool, "busy") >= 2 + 1, "the busy consumer's loops were woken")
        }
        try await expectDeliveredOnceInSequence(pool, total: 20)
        await pool.close()
    }

    @Test("a loop whose batch was not full claims again only after the claim interval: the commits meanwhile come in one batch; an idle loop claims at once")
    func claimInterval() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        let calls = NIOLockedValueBox<[(size: Int, at: ContinuousClock.Instant)]>([])
        bus.consumeBatches("vehicle.*", as: "batcher") { events, work in
            calls.withLockedValue { $0.append((events.count, ContinuousClock.now)) }
            for event in events {
                try await work.query("""
                    INSERT INTO demo.seen (consumer, event_id, aggregate_id, aggregate_version)
                    VALUES ('batcher', \(event.eventId)::uuid, \(event.aggregateId), \(event.aggregateVersion))
                    """)
            }
        }
        var options = fastOptions
        options.pollInterval = .seconds(60)
        options.workersPerConsumer = 1  // one loop: its claims are the consumer's
        options.claimInterval = .milliseconds(1500)
        try await Self.withRelay(bus, options) {
            try await Task.sleep(for: .milliseconds(2000))  // the loop's first (empty) claim and its interval are over
            let published = ContinuousClock.now
            try await bus.transaction(.system()) { try await $0.publish(vehicleEvent("a")) }
            #expect(try await Self.eventually { calls.withLockedValue { $0.count } == 1 })
            let first = try #require(calls.withLockedValue { $0.first })
            #expect(first.at - published < .milliseconds(1000), "an idle loop claims at once when woken: \(first.at - published)")
            for aggregate in ["b", "c", "d"] {
                try await bus.transaction(.system()) { try await $0.publish(vehicleEvent(aggregate)) }
            }
            #expect(try await Self.eventually { try await count(pool, "SELECT count(*)::int FROM demo.seen") == 4 })
            let all = calls.withLockedValue { $0 }
            #expect(all.map(\.size) == [1, 3], "the three commits made during the interval came in one batch: \(all.map(\.size))")
            if all.count == 2 {
                #expect(all[1].at - all[0].at >= .milliseconds(1000), "no claim before the interval: \(all[1].at - all[0].at)")
            }
        }
        try await expectDeliveredOnceInSequence(pool, total: 4)
        await pool.close()
    }
}
