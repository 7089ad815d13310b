import Foundation
import KaroKarMessages
import KaroKarPostgres
public import Logging
import Tracing

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
/// events of its aggregate for that consumer until it is replayed or discarded, unless the
/// consumer chose ``DeadLetterPolicy/proceed``. Other aggregates flow meanwhile.
///
/// Consumers that did not exist when events were published (or that the publishing process did
/// not know) get their deliveries from the fan-out over each consumer's cursor; retention passes
/// prune what no consumer needs any more. See ``ConsumerCursors`` for how order per aggregate and
/// exactly-once effects hold with several processes.
public final class EventRelay: Sendable {
    public struct Options: Sendable {
        public var batchSize = 100
        /// A loop that claimed less than a full batch claims again no sooner than this after its
        /// previous claim started (a ring meanwhile is remembered): under a steady stream of
        /// commits each claim then takes the deliveries of many commits, instead of one claim and
        /// one settlement per commit or two, the relay's main cost in PostgreSQL (Booking's
        /// README, "Performance"). An idle consumer still claims at once when woken, so this is
        /// the most it adds to a consumer's lag; a full batch (a backlog) claims again at once.
        /// Zero: claim whenever woken.
        public var claimInterval: Duration = .milliseconds(20)
        /// Delivery loops per consumer in this relay. They share the consumer's deliveries through
        /// the same leases as relays in other processes, so an aggregate's events still go one at
        /// a time and in order; two keep a consumer up with many publishers whose backends compete
        /// with its own for the database's CPU.
        public var workersPerConsumer = 2
        /// How many of the relay's loops use the database at once (see ``RelayPermits``); nil: a
        /// third of the pool's connections, at least one, so calls always find most of the pool.
        public var maximumConnections: Int?
        /// A leased delivery no one settles within this is due again (its relay died).
        public var lease: Duration = .seconds(30)
        /// Fallback poll when no NOTIFY arrives (a lost connection, retries coming due).
        public var pollInterval: Duration = .milliseconds(500)
        public var maximumAttempts = 10
        public var firstRetryDelay: Duration = .milliseconds(100)
        public var maximumRetryDelay: Duration = .seconds(300)
        /// How often the fan-out advances the outbox horizon and the consumers' cursors, writing
        /// the deliveries of events whose publisher did not know a consumer (a consumer added
        /// later, a rolling deploy). A cursor that is behind catches up without waiting.
        public var fanOutInterval: Duration = .seconds(1)
        /// Events one fan-out transaction walks per consumer.
        public var fanOutBatch = 1000
        /// Events one step of a log consumer (``EventBus/consumeLog(_:as:from:_:)``) reads at most.
        public var logBatchSize = 500
        /// A log consumer's steps start at least this far apart unless the previous one read a
        /// full batch: under a stream of commits one step takes the events of many (the horizon
        /// needs two moves after a commit, so about twice this is the log's lag behind it).
        public var logInterval: Duration = .milliseconds(100)
        /// How often a retention pass runs (nil: never). Passes of several processes do not
        /// overlap (an advisory lock; the others skip).
        public var pruneInterval: Duration? = .seconds(300)
        /// Rows of each kind one retention transaction deletes at most.
        public var pruneBatch = 5000
        public var retention = Retention()

        public init() {}

        /// Backoff before attempt `attempts + 1`: doubling from ``firstRetryDelay``, capped.
        func retryDelay(afterAttempts attempts: Int) -> Duration {
            let factor = 1 << min(max(attempts - 1, 0), 20)
            return min(firstRetryDelay * factor, maximumRetryDelay)
        }
    }

    /// How long what the relay keeps is kept.
    public struct Retention: Sendable, Hashable {
        /// Processed records (the consumers' de-duplication of redeliveries).
        public var processed: Duration = .seconds(7 * 86_400)
        /// Idempotency keys of RPC calls (``Idempotency``): retries come within minutes.
        public var idempotencyKeys: Duration = .seconds(86_400)
        /// Outbox events, once every registered consumer has passed them and no delivery refers
        /// to them (Audit's completeness check compares the audit with the outbox within this).
        public var outbox: Duration = .seconds(30 * 86_400)

        public init() {}
    }

    let bus: EventBus
    let options: Options
    let logger: Logger
    /// Written into leases, for operators: which process holds a delivery.
    let owner: String
    /// The relay's share of the pool.
    let permits: RelayPermits

    public init(bus: EventBus, options: Options = Options(), logger: Logger) {
        self.bus = bus
        self.options = options
        self.logger = logger
        self.owner = "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID.random().uuidString.prefix(8).lowercased())"
        self.permits = RelayPermits(options.maximumConnections ?? bus.pool.configuration.maximumConnections / 3)
    }

    /// Runs until the task is cancelled.
    ///
    /// First registers the bus's consumers in the database (retrying while it is unreachable),
    /// then runs the delivery loops, the fan-out (``ConsumerCursors``) and the retention passes.
    public func run() async {
        let consumers = bus.consumers
        guard !consumers.isEmpty else {
            await prune()
            return
        }
        guard await register(consumers) else { return }
        let logs = consumers.filter(\.readsLog)
        let takers = consumers.filter { !$0.readsLog }
        // A log consumer's deliveries are only its replayed dead letters: one loop is plenty.
        let workers = consumers.flatMap { consumer in
            (0..<(consumer.readsLog ? 1 : max(1, options.workersPerConsumer))).map { _ in (consumer, Doorbell()) }
        }
        let readers = logs.map { ($0, Doorbell()) }
        let doorbells = workers.map(\.1) + readers.map(\.1)
        // A commit in this process wakes the delivery loops of the consumers it wrote deliveries
        // for, and every log reader (it published).
        let listening = bus.addCommitListener { names in
            for (consumer, doorbell) in workers where names.contains(consumer.name) { doorbell.ring() }
            for (_, doorbell) in readers { doorbell.ring() }
        }
        let listener = PostgresListener(connectionString: bus.pool.configuration.connectionString, channels: [EventBus.channel])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.listen(listener, waking: doorbells) }
            group.addTask { await self.bus.runNotifier(interval: self.options.claimInterval) }
            group.addTask { await self.fanOut(takers, waking: doorbells) }
            group.addTask { await self.prune() }
            for (consumer, doorbell) in workers {
                group.addTask { await self.deliver(to: consumer, doorbell: doorbell) }
            }
            for (consumer, doorbell) in readers {
                group.addTask { await self.readLog(of: consumer, doorbell: doorbell) }
            }
            await group.waitForAll()
        }
        bus.removeCommitListener(listening)
        await listener.close()
    }

    /// Registers the bus's consumers in the database now (``run()`` does it first anyway): from
    /// then on the outbox keeps what they need.
    public func registerConsumers() async throws {
        try await ConsumerCursors.register(bus.consumers, pool: bus.pool)
    }

    private func register(_ consumers: [EventBus.Subscription]) async -> Bool {
        var failures = 0
        while !Task.isCancelled {
            do {
                try await ConsumerCursors.register(consumers, pool: bus.pool)
                return true
            } catch {
                failures += 1
                if failures == 1 { logger.warning("event relay cannot register its consumers; retrying", metadata: ["error": "\(error)"]) }
                try? await Task.sleep(for: min(.milliseconds(100) * failures, .seconds(5)))
            }
        }
        return false
    }

    /// Advances the horizon and every consumer's cursor, writing the deliveries publishers could
    /// not; goes on at once while a cursor is behind, else every ``Options/fanOutInterval``.
    private func fanOut(_ consumers: [EventBus.Subscription], waking doorbells: [Doorbell]) async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let (written, behind) = try await permits.withPermit {
                    let safe = try await ConsumerCursors.advanceHorizon(pool: bus.pool)
                    var behind = false
                    var written = 0
                    for consumer in consumers {
                        let step = try await ConsumerCursors.fanOut(consumer: consumer.name, safe: safe, limit: options.fanOutBatch, pool: bus.pool)
                        written += step.written
                        behind = behind || !step.caughtUp
                    }
                    return (written, behind)
                }
                failures = 0
                if written > 0 { doorbells.forEach { $0.ring() } }
                if !behind { try? await Task.sleep(for: options.fanOutInterval) }
            } catch {
                failures += 1
                if !Task.isCancelled, failures == 1 { logger.warning("event fan-out failed; retrying", metadata: ["error": "\(error)"]) }
                try? await Task.sleep(for: min(.milliseconds(100) * failures, .seconds(5)))
            }
        }
    }

    /// Retention passes every ``Options/pruneInterval``, repeated at once while a batch was full.
    private func prune() async {
        guard let interval = options.pruneInterval else { return }
        while !Task.isCancelled {
            do {
                var deleted = options.pruneBatch
                while deleted >= options.pruneBatch, !Task.isCancelled {
                    deleted = try await permits.withPermit {
                        try await ConsumerCursors.prune(options.retention, batch: options.pruneBatch, pool: bus.pool)
                    } ?? 0
                }
            } catch {
                if !Task.isCancelled { logger.warning("event retention pass failed", metadata: ["error": "\(error)"]) }
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// One retention pass now (tests, operators): the rows deleted, nil when another process was
    /// pruning.
    @discardableResult
    public func pruneOnce() async throws -> Int? {
        try await ConsumerCursors.prune(options.retention, batch: options.pruneBatch, pool: bus.pool)
    }

    private func listen(_ listener: PostgresListener, waking doorbells: [Doorbell]) async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let notified = try await listener.notifications(timeout: .milliseconds(250))
                failures = 0
                // This process's own NOTIFYs come back too: its commits already woke their loops.
                if notified.contains(where: { $0.payload != bus.notifierID }) { doorbells.forEach { $0.ring() } }
            } catch {
                failures += 1
                if failures == 1 { logger.warning("event relay cannot listen; polling until it can", metadata: ["error": "\(error)"]) }
                try? await Task.sleep(for: min(.milliseconds(100) * failures, .seconds(5)))
            }
        }
    }

    /// A log consumer's loop: moves the horizon, reads the log up to it (``OutboxLog``), again at
    /// once while a batch was full, every ``Options/logInterval`` while the horizon is behind the
    /// events taken, else when a commit that published wakes it (this process's, or another's
    /// NOTIFY; at the latest after ``Options/pollInterval``), no sooner than ``Options/logInterval``
    /// after its previous step started (one step then takes the events of many commits). A step
    /// that fails for the database's availability is retried with backoff. One that fails
    /// otherwise is read again an event at a time, and an event that fails alone is parked as a
    /// dead letter (the log goes on; its deliveries loop handles a replayed one).
    private func readLog(of consumer: EventBus.Subscription, doorbell: Doorbell) async {
        var logger = self.logger
        logger[metadataKey: "events.consumer"] = "\(consumer.name)"
        var failures = 0
        var started = ContinuousClock.now
        var backlog = false
        while !Task.isCancelled {
            do {
                if !backlog { try? await Task.sleep(until: started + options.logInterval, clock: .continuous) }
                started = ContinuousClock.now
                let (readUp, horizonBehind) = try await permits.withPermit {
                    let horizon = try await ConsumerCursors.advanceHorizonFully(pool: bus.pool)
                    do {
                        let readUp = try await OutboxLog.step(consumer, safe: horizon.safe, limit: options.logBatchSize, bus: bus)
                        return (readUp, horizon.behind)
                    } catch let failure as OutboxLog.StepFailure where !failure.isTransient {
                        logger.warning("event log batch failed; reading it one event at a time", metadata: ["error": "\(failure)"])
                        return (try await isolate(consumer, safe: horizon.safe, logger: logger), horizon.behind)
                    }
                }
                failures = 0
                // A full batch: read on at once. Another process holds the log (nil), or it is
                // read up to a horizon that has caught up: wait for a commit.
                backlog = readUp == false
                if readUp == true && !horizonBehind || readUp == nil { await doorbell.wait(timeout: options.pollInterval) }
            } catch {
                failures += 1
                if !Task.isCancelled {
                    logger.log(
                        level: failures >= options.maximumAttempts ? .error : .warning, "event log step failed; the log waits and retries",
                        metadata: ["error": "\(error)", "events.failures": "\(failures)"]
                    )
                }
                try? await Task.sleep(for: options.retryDelay(afterAttempts: failures))
            }
        }
    }

    /// Reads up to a batch of `consumer`'s log one event at a time, parking each event that
    /// fails alone; returns like ``OutboxLog/step(_:safe:limit:bus:)``.
    private func isolate(_ consumer: EventBus.Subscription, safe: Int64, logger: Logger) async throws -> Bool? {
        for _ in 0..<options.logBatchSize {
            do {
                let readUp = try await OutboxLog.step(consumer, safe: safe, limit: 1, bus: bus)
                if readUp != false { return readUp }
            } catch let failure as OutboxLog.StepFailure where !failure.isTransient {
                guard let seq = failure.seq else { throw failure }
                logger.error("event handler failed; the event is parked as a dead letter", metadata: [
                    "events.seq": "\(seq)", "error": "\(failure)",
                ])
                guard try await OutboxLog.park(consumer, seq: seq, error: "\(failure)", pool: bus.pool) else { return nil }
            }
        }
        return false
    }

    private func deliver(to consumer: EventBus.Subscription, doorbell: Doorbell) async {
        var logger = self.logger
        logger[metadataKey: "events.consumer"] = "\(consumer.name)"
        var failures = 0
        while !Task.isCancelled {
            do {
                let started = ContinuousClock.now
                // One permit for the claim and its batch; none while waiting for the doorbell.
                let claimed = try await permits.withPermit {
                    let claimed = try await OutboxStore.claim(
                        consumer: consumer.name, limit: options.batchSize, lease: options.lease, owner: owner, pool: bus.pool
                    )
                    if !claimed.isEmpty {
                        if let tracer = bus.pool.configuration.tracer {
                            try await processTraced(claimed, consumer: consumer, logger: logger, tracer: tracer)
                        } else {
                            try await process(claimed, consumer: consumer, logger: logger)
                        }
                    }
                    return claimed
                }
                failures = 0
                let full = claimed.count >= options.batchSize
                if !full, options.claimInterval > .zero {
                    try? await Task.sleep(until: started + options.claimInterval, clock: .continuous)
                }
                if claimed.isEmpty { await doorbell.wait(timeout: options.pollInterval) }
            } catch {
                failures += 1
                if !Task.isCancelled { logger.warning("event delivery failed; retrying", metadata: ["error": "\(error)"]) }
                try? await Task.sleep(for: min(.milliseconds(50) * failures, .seconds(5)))
            }
        }
    }

    // MARK: - Batches

    /// ``process(_:consumer:logger:)`` inside a consumer span, whose statements are its children.
    /// A delivery of one event whose publishing call was traced (its `traceparent` is on the
    /// outbox row) continues that trace; a batch links to each publishing call's span instead
    /// (OpenTelemetry's messaging conventions).
    private func processTraced(_ claimed: [OutboxStore.Claimed], consumer: EventBus.Subscription, logger: Logger, tracer: any Tracer) async throws {
        let parents = (try? await OutboxStore.traceParents(of: claimed, pool: bus.pool)) ?? [:]
        try await Self.withConsumerSpan(
            consumer.name, events: claimed.map(\.envelope), traceParents: claimed.compactMap { parents[$0.seq] }, tracer: tracer
        ) {
            try await process(claimed, consumer: consumer, logger: logger)
        }
    }

    /// `body` inside a consumer span for `events`: a batch of one whose publishing call was
    /// traced (`traceParents`, from the outbox rows) continues that trace; a larger batch links to
    /// each publishing call's span instead (OpenTelemetry's messaging conventions).
    static func withConsumerSpan(
        _ consumer: String, events: [EventsV1.EventEnvelope], traceParents: [String], tracer: any Tracer,
        _ body: () async throws -> Void
    ) async throws {
        var publishers: [InstrumentationContext] = []
        for traceParent in traceParents {
            var context = InstrumentationContext.topLevel
            tracer.extract(traceParent, into: &context, using: TraceParentExtractor())
            publishers.append(context)
        }
        let parent = events.count == 1 ? publishers.first : nil
        let span = tracer.startSpan("process \(consumer)", context: parent ?? .topLevel, ofKind: .consumer)
        if span.isRecording {
            var attributes = span.attributes
            attributes["messaging.system"] = "karokar.outbox"
            attributes["messaging.operation.type"] = "process"
            attributes["messaging.consumer.group.name"] = consumer
            attributes["messaging.batch.message_count"] = Int64(events.count)
            if events.count == 1 {
                attributes["messaging.message.id"] = events[0].eventId
                attributes["karokar.event_type"] = events[0].eventType
            }
            span.attributes = attributes
            if parent == nil {
                for publisher in publishers.prefix(64) { span.addLink(SpanLink(context: publisher, attributes: [:])) }
            }
        }
        do {
            try await InstrumentationContext.withValue(span.context) {
                try await body()
            }
            span.end()
        } catch {
            span.setStatus(SpanStatus(code: .error, message: "\(type(of: error))"))
            span.end()
            throw error
        }
    }

    func process(_ claimed: [OutboxStore.Claimed], consumer: EventBus.Subscription, logger: Logger) async throws {
        do {
            let journal = Journal()
            defer { if journal.hasEvents { bus.committed(journal.consumers) } }
            try await journal.transaction(bus.pool, durable: false) { session in
                let fresh = try await OutboxStore.settle(claimed, consumer: consumer.name, session: session)
                if let batch = consumer.batchHandler {
                    let events = claimed.filter { fresh.contains($0.seq) }.map(\.envelope)
                    guard !events.isEmpty else { return }
                    let work = UnitOfWork(session: session, origin: .system(), bus: bus, depth: 0, journal: journal)
                    do {
                        try await batch(events, work)
                    } catch let error as PostgresError where error.code.isConnectionFailure || error.code.isTransient {
                        throw error
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        throw BatchFailure(error: error)
                    }
                    return
                }
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
            // one transaction each, but for the later events of its aggregate (a claim leases an
            // aggregate's run: the events before the failed one run, the ones after it wait).
            let failed = claimed[failure.index]
            try await recordFailure(failed, consumer: consumer, error: failure.error, logger: logger)
            var rest = claimed
            rest.remove(at: failure.index)
            try await processOneByOne(rest, consumer: consumer, failedAt: [failed.aggregateKey: failed.seq], logger: logger)
        } catch let failure as BatchFailure where claimed.count > 1 {
            // A batch consumer's batch failed: no event is to blame yet. Each runs again alone,
            // where a failure is that event's (counted, retried, dead in the end).
            logger.warning("event batch failed; delivering one by one", metadata: ["error": "\(failure.error)"])
            try await processOneByOne(claimed, consumer: consumer, failedAt: [:], logger: logger)
        } catch let failure as BatchFailure {
            try await recordFailure(claimed[0], consumer: consumer, error: failure.error, logger: logger)
        } catch let error as PostgresError where claimed.count == 1 && !error.code.isConnectionFailure && !error.code.isTransient {
            // The same for a batch of one: the failure is that delivery's.
            try await recordFailure(claimed[0], consumer: consumer, error: error, logger: logger)
        } catch let error as PostgresError where !error.code.isConnectionFailure && !error.code.isTransient {
            // A statement the handlers queued to go out with the commit (PostgresSession.enqueue:
            // no round trip per event) failed there, so no handler is to blame yet. The batch
            // rolled back; every delivery runs again in a transaction of its own, where such a
            // failure is that delivery's (counted, retried, dead in the end) and the others flow.
            logger.warning("event batch failed at commit; delivering one by one", metadata: ["error": "\(error)"])
            try await processOneByOne(claimed, consumer: consumer, failedAt: [:], logger: logger)
        }
    }

    private struct HandlerFailure: Error {
        let index: Int
        let error: any Error
    }

    private struct BatchFailure: Error {
        let error: any Error
    }

    private func processOneByOne(
        _ claimed: [OutboxStore.Claimed], consumer: EventBus.Subscription, failedAt: [String: Int64], logger: Logger
    ) async throws {
        // Per aggregate, the earliest delivery that failed: the ones after it wait for it.
        var failedAt = failedAt
        var notAttempted: [Int64] = []
        for delivery in claimed {
            if let failed = failedAt[delivery.aggregateKey], delivery.seq > failed {
                notAttempted.append(delivery.seq)  // keeps the aggregate's order: it waits for the failed one
                continue
            }
            do {
                let journal = Journal()
                try await journal.transaction(bus.pool, durable: false) { session in
                    try await handle(delivery, consumer: consumer, session: session, journal: journal)
                }
                if journal.hasEvents { bus.committed(journal.consumers) }
            } catch let error as PostgresError where error.code.isConnectionFailure {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                failedAt[delivery.aggregateKey] = min(failedAt[delivery.aggregateKey] ?? delivery.seq, delivery.seq)
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

/// A stored `traceparent`, for an `Instrument`'s `extract`.
struct TraceParentExtractor: Extractor {
    func extract(key: String, from carrier: String) -> String? {
        key == "traceparent" ? carrier : nil
    }
}
