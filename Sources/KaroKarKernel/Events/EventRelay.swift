import Foundation
import KaroKarPostgres
public import Logging

/// Delivers outbox events to the bus's after-commit consumers: loops per consumer, woken by
/// PostgreSQL's NOTIFY at commit (with a slow poll as a safety net), leasing deliveries with
/// `FOR UPDATE SKIP LOCKED` so any number of relays in any number of processes share the work.
///
/// A batch of deliveries runs in one transaction, committed without waiting for its WAL flush: the
/// handlers' effects and the deliveries' settlement commit or vanish together, so a crash only
/// means a redelivery, which at-least-once delivery allows (and idempotent consumers absorb).
/// If a handler throws, the batch is rolled back
/// and its deliveries run one transaction each, so one failure neither blocks the others nor
/// commits half of anything. Failed deliveries retry with exponential backoff and end up dead
/// after ``Options/maximumAttempts`` (see ``DeadLetters``); a dead delivery holds back later
/// events of its aggregate for that consumer until it is replayed or discarded.
public final class EventRelay: Sendable {
    public struct Options: Sendable {
        public var batchSize = 100
        /// Delivery loops per consumer in this relay. They share the consumer's deliveries through
        /// the same leases as relays in other processes, so an aggregate's events still go one at
        /// a time and in order; two keep a consumer up with many publishers whose backends compete
        /// with its own for the database's CPU.
        public var workersPerConsumer = 2
        /// A leased delivery no one settles within this is due again (its relay died).
        public var lease: Duration = .seconds(30)
        /// Fallback poll when no NOTIFY arrives (a lost connection, retries coming due).
        public var pollInterval: Duration = .milliseconds(500)
        public var maximumAttempts = 10
        public var firstRetryDelay: Duration = .milliseconds(100)
        public var maximumRetryDelay: Duration = .seconds(300)

        public init() {}

        /// Backoff before attempt `attempts + 1`: doubling from ``firstRetryDelay``, capped.
        func retryDelay(afterAttempts attempts: Int) -> Duration {
            let factor = 1 << min(max(attempts - 1, 0), 20)
            return min(firstRetryDelay * factor, maximumRetryDelay)
        }
    }

    let bus: EventBus
    let options: Options
    let logger: Logger
    /// Written into leases, for operators: which process holds a delivery.
    let owner: String

    public init(bus: EventBus, options: Options = Options(), logger: Logger) {
        self.bus = bus
        self.options = options
        self.logger = logger
        self.owner = "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID.random().uuidString.prefix(8).lowercased())"
    }

    /// Runs until the task is cancelled.
    public func run() async {
        let consumers = bus.consumers
        guard !consumers.isEmpty else { return }
        let workers = consumers.flatMap { consumer in (0..<max(1, options.workersPerConsumer)).map { _ in (consumer, Doorbell()) } }
        let doorbells = workers.map(\.1)
        let listening = bus.addCommitListener { doorbells.forEach { $0.ring() } }
        let listener = PostgresListener(connectionString: bus.pool.configuration.connectionString, channels: [EventBus.channel])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.listen(listener, waking: doorbells) }
            group.addTask { await self.bus.runNotifier() }
            for (consumer, doorbell) in workers {
                group.addTask { await self.deliver(to: consumer, doorbell: doorbell) }
            }
            await group.waitForAll()
        }
        bus.removeCommitListener(listening)
        await listener.close()
    }

    private func listen(_ listener: PostgresListener, waking doorbells: [Doorbell]) async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let notified = try await listener.wait(timeout: .milliseconds(250))
                failures = 0
                if !notified.isEmpty { doorbells.forEach { $0.ring() } }
            } catch {
                failures += 1
                if failures == 1 { logger.warning("event relay cannot listen; polling until it can", metadata: ["error": "\(error)"]) }
                try? await Task.sleep(for: min(.milliseconds(100) * failures, .seconds(5)))
            }
        }
    }

    private func deliver(to consumer: EventBus.Subscription, doorbell: Doorbell) async {
        var logger = self.logger
        logger[metadataKey: "events.consumer"] = "\(consumer.name)"
        var failures = 0
        while !Task.isCancelled {
            do {
                let claimed = try await OutboxStore.claim(
                    consumer: consumer.name, limit: options.batchSize, lease: options.lease, owner: owner, pool: bus.pool
                )
                failures = 0
                if claimed.isEmpty {
                    await doorbell.wait(timeout: options.pollInterval)
                } else {
                    try await process(claimed, consumer: consumer, logger: logger)
                }
            } catch {
                failures += 1
                if !Task.isCancelled { logger.warning("event delivery failed; retrying", metadata: ["error": "\(error)"]) }
                try? await Task.sleep(for: min(.milliseconds(50) * failures, .seconds(5)))
            }
        }
    }

    // MARK: - Batches

    func process(_ claimed: [OutboxStore.Claimed], consumer: EventBus.Subscription, logger: Logger) async throws {
        do {
            let journal = Journal()
            defer { if journal.hasDeliveries { bus.committed() } }
            try await bus.pool.transaction(durable: false) { session in
                let fresh = try await OutboxStore.settle(claimed, consumer: consumer.name, session: session)
                for (index, delivery) in claimed.enumerated() where fresh.contains(delivery.seq) {
                    do {
                        try await run(delivery, consumer: consumer, session: session, journal: journal)
                    } catch let error as PostgresError where error.code.isConnectionFailure || error.code.isTransient {
                        throw error
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        throw HandlerFailure(index: index, error: error)
                    }
                }
            }
        } catch let failure as HandlerFailure {
            // The batch rolled back. The failed delivery counts as attempted; the rest run again,
            // one transaction each.
            try await recordFailure(claimed[failure.index], consumer: consumer, error: failure.error, logger: logger)
            var rest = claimed
            rest.remove(at: failure.index)
            try await processOneByOne(rest, consumer: consumer, failedAggregates: [claimed[failure.index].aggregateKey], logger: logger)
        }
    }

    private struct HandlerFailure: Error {
        let index: Int
        let error: any Error
    }

    private func processOneByOne(
        _ claimed: [OutboxStore.Claimed], consumer: EventBus.Subscription, failedAggregates: Set<String>, logger: Logger
    ) async throws {
        var failedAggregates = failedAggregates
        var notAttempted: [Int64] = []
        for delivery in claimed {
            guard !failedAggregates.contains(delivery.aggregateKey) else {
                notAttempted.append(delivery.seq)  // keeps the aggregate's order: it waits for the failed one
                continue
            }
            do {
                let journal = Journal()
                try await bus.pool.transaction(durable: false) { session in
                    try await handle(delivery, consumer: consumer, session: session, journal: journal)
                }
                if journal.hasDeliveries { bus.committed() }
            } catch let error as PostgresError where error.code.isConnectionFailure {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                failedAggregates.insert(delivery.aggregateKey)
                try await recordFailure(delivery, consumer: consumer, error: error, logger: logger)
            }
        }
        try await OutboxStore.release(notAttempted, consumer: consumer.name, pool: bus.pool)
    }

    private func recordFailure(_ delivery: OutboxStore.Claimed, consumer: EventBus.Subscription, error: any Error, logger: Logger) async throws {
        let dead = delivery.attempts >= options.maximumAttempts
        logger.log(
            level: dead ? .error : .warning, dead ? "event handler failed; delivery is dead" : "event handler failed; will retry",
            metadata: ["events.event_id": "\(delivery.envelope.eventId)", "events.type": "\(delivery.envelope.eventType)",
                       "events.attempts": "\(delivery.attempts)", "error": "\(error)"]
        )
        try await OutboxStore.fail(
            delivery, consumer: consumer.name, error: "\(error)", retryAfter: options.retryDelay(afterAttempts: delivery.attempts),
            maximumAttempts: options.maximumAttempts, pool: bus.pool
        )
    }

    private func handle(_ delivery: OutboxStore.Claimed, consumer: EventBus.Subscription, session: PostgresSession, journal: Journal) async throws {
        guard try await OutboxStore.settle(delivery, consumer: consumer.name, session: session) else { return }
        try await run(delivery, consumer: consumer, session: session, journal: journal)
    }

    private func run(_ delivery: OutboxStore.Claimed, consumer: EventBus.Subscription, session: PostgresSession, journal: Journal) async throws {
        let work = UnitOfWork(session: session, origin: .reaction(to: delivery.envelope), bus: bus, depth: 0, journal: journal)
        try await consumer.handler(delivery.envelope, work)
    }
}
