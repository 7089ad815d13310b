import Foundation
@testable import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarTestSupport
import Testing

/// The relay's share of the pool (``RelayPermits``): its loops never hold more than a third of
/// the pool's connections, so calls always find most of it, however many consumers it runs.
@Suite("Relay permits: the relay's loops use at most a third of the pool")
struct RelayPermitsTests {
    /// Counts holders of a permit at once.
    actor Holders {
        var now = 0
        var most = 0
        var entered: [Int] = []

        func enter(_ index: Int) {
            now += 1
            most = max(most, now)
            entered.append(index)
        }

        func leave() { now -= 1 }

        /// A sample taken from outside (holders seen at once).
        func observe(_ value: Int) {
            most = max(most, value)
            entered.append(value)
        }
    }

    struct Boom: Error {}

    @Test("at most `limit` bodies hold a permit at once; waiters go in arrival order; a throwing body releases its permit")
    func limitsHolders() async throws {
        let permits = RelayPermits(2)
        let holders = Holders()
        // The first two take the permits; the rest queue one by one, in a known order.
        let first = Task { try await permits.withPermit { await holders.enter(0); try await Task.sleep(for: .milliseconds(300)); await holders.leave() } }
        // The second keeps its permit until every waiter has entered: the waiters then pass one
        // permit along, one grant at a time, so the order they enter in is the order of the
        // grants (two waiters granted at once could enter in either order).
        let second = Task {
            try await permits.withPermit {
                await holders.enter(1)
                let deadline = ContinuousClock.now + .seconds(20)
                while await holders.entered.count < 8, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
                await holders.leave()
            }
        }
        // Each task has arrived (holds a permit or waits for one) before the next is made: on a
        // busy machine a fixed sleep did not always let a task start in time.
        func arrived(_ count: Int) async throws {
            let deadline = ContinuousClock.now + .seconds(10)
            while await holders.entered.count + permits.waiting < count, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(1))
            }
        }
        try await arrived(2)
        var waiting: [Task<Void, any Error>] = []
        for index in 2..<8 {
            waiting.append(Task { try await permits.withPermit { await holders.enter(index); try await Task.sleep(for: .milliseconds(20)); await holders.leave() } })
            try await arrived(index + 1)
        }
        for task in [first, second] + waiting { try await task.value }
        #expect(await holders.most == 2, "never more than the limit at once")
        #expect(await holders.entered.count == 8)
        let order = Array(await holders.entered.dropFirst(2))
        #expect(order == Array(2..<8), "waiters are served in arrival order: \(order)")

        let one = RelayPermits(1)
        await #expect(throws: Boom.self) { try await one.withPermit { () async throws -> Int in throw Boom() } }
        let reacquired = Task { try await one.withPermit { true } }
        let deadline = Task {
            try await Task.sleep(for: .seconds(5))
            reacquired.cancel()
        }
        #expect(try await reacquired.value, "a body that threw gave its permit back")
        deadline.cancel()
        #expect(RelayPermits(0).limit == 1, "at least one, whatever the pool")
    }

    @Test("eight slow delivery loops on a pool of six hold at most two connections; a call still gets one at once")
    func relayLeavesThePoolToCalls() async throws {
        let (observer, conninfo) = try await kernelDatabase()
        var configuration = PostgresPool.Configuration(connectionString: conninfo)
        configuration.maximumConnections = 6
        let pool = PostgresPool(configuration: configuration)
        let bus = EventBus(pool: pool)
        for consumer in 0..<4 {
            let name = "slow\(consumer)"
            bus.consume("*", as: name) { event, work in
                try await work.query("SELECT 'relay-permit-probe' AS probe, pg_sleep(0.1)")
                try await work.query("""
                    INSERT INTO demo.seen (consumer, event_id, aggregate_id, aggregate_version)
                    VALUES (\(name), \(event.eventId)::uuid, \(event.aggregateId), \(event.aggregateVersion))
                    """)
            }
        }
        for index in 0..<20 {
            try await bus.transaction(.system()) { try await $0.publish(vehicleEvent("p\(index)")) }
        }
        var options = fastOptions
        options.batchSize = 1
        options.workersPerConsumer = 2  // 8 delivery loops, a fan-out and a retention pass: 10 loops
        let mostInHandlers = Holders()
        let slowestCall = Holders()
        let done = try await relayUntil(bus, options: options) {
            let inHandlers = try await count(observer, """
                SELECT count(*)::int FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT ''relay-permit-probe''%'
                """)
            await mostInHandlers.observe(inHandlers)
            // A call through the relay's pool while it works: it finds a free connection at once.
            let started = ContinuousClock.now
            _ = try await pool.query("SELECT 1")
            let waited = ContinuousClock.now - started
            await slowestCall.observe(Int(waited / .milliseconds(1)))
            return try await count(observer, "SELECT count(*)::int FROM demo.seen") == 80
        }
        #expect(done, "every delivery made")
        let most = await mostInHandlers.most
        #expect(most >= 1 && most <= 2, "handlers at once: \(most) (the pool's third is 2)")
        let waits = await slowestCall.entered
        #expect(!waits.isEmpty && waits.max()! < 1000, "a call never queued behind the relay: waited up to \(waits.max() ?? -1) ms")
        await pool.close()
        await observer.close()
    }
}
