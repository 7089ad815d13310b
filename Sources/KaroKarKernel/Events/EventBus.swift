import Foundation
public import KaroKarMessages
public import KaroKarPostgres
import KaroKarProto
import NIOConcurrencyHelpers

/// Code that reacts to an event inside a unit of work: an in-transaction reaction (it runs in the
/// publisher's transaction and can veto it by throwing) or an after-commit consumer (it runs in a
/// transaction of its own, at least once, de-duplicated on the event id).
public typealias EventHandler = @Sendable (_ event: EventsV1.EventEnvelope, _ work: UnitOfWork) async throws -> Void

/// An after-commit consumer that takes the relay's batch at once (``EventBus/consumeBatches(_:as:from:onDeadLetter:_:)``):
/// the events in delivery order, in one unit of work acting as the system.
public typealias EventBatchHandler = @Sendable (_ events: [EventsV1.EventEnvelope], _ work: UnitOfWork) async throws -> Void

/// The one event bus (ARCHITECTURE.md item 7, DOMAIN.md section 3).
///
/// - Reactions an invariant depends on subscribe with ``react(to:as:_:)``: they run inside the
///   publisher's transaction, so the change and the reaction commit or fail together.
/// - Everything else subscribes with ``consume(_:as:_:)``: publishing writes the event and one
///   delivery per matching consumer to the outbox in the same transaction; ``EventRelay`` delivers
///   after commit, from any server process, at least once, in order per aggregate.
/// - A consumer of every event in one order (Audit) may read the outbox itself instead, with
///   ``consumeLog(_:as:from:_:)``: no delivery rows, exactly once, in `seq` order.
///
/// Subscriptions are made while the server is composed, before it serves.
public final class EventBus: Sendable {
    struct Subscription: Sendable {
        let name: String
        let patterns: [EventPattern]
        let handler: EventHandler
        var start: ConsumerStart = .now
        var onDeadLetter: DeadLetterPolicy = .wait
        /// Set for a batch consumer (``handler`` then hands it one event at a time).
        var batchHandler: EventBatchHandler?
        /// A log consumer (``EventBus/consumeLog(_:as:from:_:)``): reads the outbox itself, takes
        /// no deliveries.
        var readsLog = false

        func matches(_ eventType: String) -> Bool {
            patterns.contains { $0.matches(eventType) }
        }
    }

    private struct Registry {
        var reactions: [Subscription] = []
        var consumers: [Subscription] = []
        var knownConsumers: [String] = []
        var commitListeners: [Int: @Sendable (Set<String>) -> Void] = [:]
        var nextListener = 0
    }

    /// PostgreSQL's NOTIFY channel that wakes relays when deliveries commit.
    public static let channel = "karokar_events"
    /// In-transaction reactions may publish in turn, this deep at most (a loop is a bug).
    static let maximumReactionDepth = 8

    public let pool: PostgresPool
    private let registry = NIOLockedValueBox(Registry())
    private let notifyBell = Doorbell()
    private let notifierRunning = NIOLockedValueBox(false)
    /// The time of day of events' `occurredAt` (and of every context built on this bus).
    public let clock: any WallClock

    public init(pool: PostgresPool, clock: any WallClock = SystemClock()) {
        self.pool = pool
        self.clock = clock
    }

    // MARK: - Subscribing

    /// An in-transaction reaction, named for logs and errors.
    public func react(to patterns: EventPattern..., as name: String, _ handler: @escaping EventHandler) {
        react(to: patterns, as: name, handler)
    }

    public func react(to patterns: [EventPattern], as name: String, _ handler: @escaping EventHandler) {
        registry.withLockedValue { $0.reactions.append(Subscription(name: name, patterns: patterns, handler: handler)) }
    }

    /// An after-commit consumer. `name` is its durable identity (deliveries, de-duplication and
    /// its cursor are kept per name): a plain lower-case identifier, never reused for another
    /// purpose.
    ///
    /// - `start`: where a consumer the database has never seen begins: ``ConsumerStart/beginning``
    ///   (every event still in the outbox; Audit) or ``ConsumerStart/now`` (events published from
    ///   its first registration on). Once registered, it resumes where it stands.
    /// - `onDeadLetter`: whether a dead delivery holds back the later events of its aggregate
    ///   (``DeadLetterPolicy/wait``, the order is complete) or not (``DeadLetterPolicy/proceed``).
    public func consume(
        _ patterns: EventPattern..., as name: String, from start: ConsumerStart = .now, onDeadLetter: DeadLetterPolicy = .wait,
        _ handler: @escaping EventHandler
    ) {
        consume(patterns, as: name, from: start, onDeadLetter: onDeadLetter, handler)
    }

    public func consume(
        _ patterns: [EventPattern], as name: String, from start: ConsumerStart = .now, onDeadLetter: DeadLetterPolicy = .wait,
        _ handler: @escaping EventHandler
    ) {
        register(Subscription(name: name, patterns: patterns, handler: handler, start: start, onDeadLetter: onDeadLetter))
    }

    /// An after-commit consumer like ``consume(_:as:from:onDeadLetter:_:)`` that receives each of
    /// the relay's batches at once (up to ``EventRelay/Options/batchSize`` events, in delivery
    /// order: each aggregate's in order), so it can write them in one statement. When the batch
    /// fails, the relay hands it the batch's events one at a time (each its own unit of work), so
    /// a failing event is retried and ends in dead letters alone, as with `consume`.
    public func consumeBatches(
        _ patterns: EventPattern..., as name: String, from start: ConsumerStart = .now, onDeadLetter: DeadLetterPolicy = .wait,
        _ handler: @escaping EventBatchHandler
    ) {
        consumeBatches(patterns, as: name, from: start, onDeadLetter: onDeadLetter, handler)
    }

    public func consumeBatches(
        _ patterns: [EventPattern], as name: String, from start: ConsumerStart = .now, onDeadLetter: DeadLetterPolicy = .wait,
        _ handler: @escaping EventBatchHandler
    ) {
        register(Subscription(
            name: name, patterns: patterns, handler: { event, work in try await handler([event], work) }, start: start,
            onDeadLetter: onDeadLetter, batchHandler: handler
        ))
    }

    /// An after-commit consumer that reads the outbox itself, in `seq` order, instead of taking
    /// deliveries: publishing writes nothing for it, and ``EventRelay`` hands it the events past
    /// its cursor up to the outbox's horizon (every `seq` at or below it committed or never will
    /// be) in batches of up to ``EventRelay/Options/logBatchSize``, in one transaction with the
    /// cursor's move, so each event takes effect exactly once. One process at a time reads a
    /// log; woken by the commits that publish, it reads about ``EventRelay/Options/logInterval``
    /// after them (the horizon moves behind the commits). For a consumer of every event, or of
    /// any events it can take in one order, with no call outside the database: a batch that fails because
    /// the database is unavailable is retried, the log waiting; one that fails otherwise is read
    /// again an event at a time, and an event that fails alone is parked as a dead letter (the
    /// log goes on; a replayed one comes later, out of order). A consumer that took deliveries
    /// before re-reads from its oldest pending one, so its handler must be idempotent on event
    /// ids (Audit's is).
    public func consumeLog(
        _ patterns: EventPattern..., as name: String, from start: ConsumerStart = .now, _ handler: @escaping EventBatchHandler
    ) {
        consumeLog(patterns, as: name, from: start, handler)
    }

    public func consumeLog(
        _ patterns: [EventPattern], as name: String, from start: ConsumerStart = .now, _ handler: @escaping EventBatchHandler
    ) {
        register(Subscription(
            name: name, patterns: patterns, handler: { event, work in try await handler([event], work) }, start: start,
            onDeadLetter: .wait, batchHandler: handler, readsLog: true
        ))
    }

    /// Adds an after-commit consumer (any kind); names are unique and plain.
    private func register(_ subscription: Subscription) {
        let name = subscription.name
        precondition(ConsumerName.isValid(name), "consumer names are plain lower-case identifiers: \(name)")
        registry.withLockedValue { registry in
            precondition(!registry.consumers.contains { $0.name == name }, "consumer \(name) is registered twice")
            registry.consumers.append(subscription)
            registry.knownConsumers = registry.consumers.filter { !$0.readsLog }.map(\.name).sorted()
        }
    }

    var consumers: [Subscription] {
        registry.withLockedValue { $0.consumers }
    }

    /// The names of this process's after-commit consumers (operators may not forget them).
    public var registeredConsumerNames: [String] {
        registry.withLockedValue { $0.consumers.map(\.name).sorted() }
    }

    /// Every consumer taking deliveries, written with each event: a consumer not in it gets its
    /// delivery from the fan-out (``EventRelay``), not from the publisher. Log consumers are not
    /// in it (they take no deliveries).
    var knownConsumers: [String] {
        registry.withLockedValue { $0.knownConsumers }
    }

    func reactions(for eventType: String) -> [Subscription] {
        registry.withLockedValue { $0.reactions.filter { $0.matches(eventType) } }
    }

    func consumerNames(for eventType: String) -> [String] {
        registry.withLockedValue { $0.consumers.filter { !$0.readsLog && $0.matches(eventType) }.map(\.name) }
    }

    // MARK: - Units of work

    /// Runs `body` in one transaction; the events it publishes, their reactions' changes and their
    /// outbox rows commit with it or not at all. Serialization failures and deadlocks retry the
    /// whole body (see ``PostgresPool/transaction(isolation:maximumAttempts:_:)``).
    @discardableResult
    public func transaction<R: Sendable>(
        _ origin: EventOrigin, isolation: IsolationLevel = .readCommitted, _ body: (UnitOfWork) async throws -> R
    ) async throws -> R {
        let journal = Journal()
        let result = try await journal.transaction(pool, isolation: isolation) { session in
            try await body(UnitOfWork(session: session, origin: origin, bus: self, depth: 0, journal: journal))
        }
        if journal.hasEvents { committed(journal.consumers) }
        return result
    }

    // MARK: - Wake-ups after commit

    /// Events were committed, with deliveries to `consumers`: wakes those consumers' delivery
    /// loops and every log consumer's loop in this process's relay at once (the other delivery
    /// loops have nothing new), and NOTIFYs the other processes' relays, outside any publishing
    /// transaction.
    func committed(_ consumers: Set<String>) {
        for listener in registry.withLockedValue({ Array($0.commitListeners.values) }) { listener(consumers) }
        notifyBell.ring()
    }

    /// This bus's NOTIFY payload: its own relay ignores the notifications it sent (the commit
    /// listener already woke the right loops), those of other processes wake every loop.
    let notifierID = UUID.random().lowercasedString

    /// Tells other processes' relays that events were committed, until cancelled: one NOTIFY
    /// for any number of commits made while one is being sent or within `interval` after it, in
    /// a transaction of its own that does not wait for its WAL flush (a lost NOTIFY only costs a
    /// poll interval). ``EventRelay`` runs it (with its claim interval: the other processes' loops
    /// would not claim sooner anyway); a process that publishes without a relay runs it itself.
    /// One per process.
    public func runNotifier(interval: Duration = .zero) async {
        guard notifierRunning.withLockedValue({ running in
            defer { running = true }
            return !running
        }) else { return }
        defer { notifierRunning.withLockedValue { $0 = false } }
        while !Task.isCancelled {
            guard await notifyBell.wait(timeout: .seconds(5)) else { continue }
            _ = try? await pool.transaction(durable: false) { session in
                try await session.query("SELECT pg_notify(\(Self.channel), \(notifierID))")
            }
            if interval > .zero { try? await Task.sleep(for: interval) }
        }
    }

    /// Called after every commit that published events, with the names of the consumers it wrote
    /// deliveries for (maybe none), until
    /// ``removeCommitListener(_:)``.
    func addCommitListener(_ listener: @escaping @Sendable (Set<String>) -> Void) -> Int {
        registry.withLockedValue { registry in
            registry.nextListener += 1
            registry.commitListeners[registry.nextListener] = listener
            return registry.nextListener
        }
    }

    func removeCommitListener(_ id: Int) {
        _ = registry.withLockedValue { $0.commitListeners.removeValue(forKey: id) }
    }
}

/// Where a consumer new to the database starts reading the outbox.
public enum ConsumerStart: Sendable, Hashable {
    /// Every event still in the outbox (retention prunes only what every registered consumer has
    /// passed, so from the first event for a consumer registered before any pruning).
    case beginning
    /// Events published from its registration on.
    case now
}

/// What a dead delivery does to the later events of its aggregate, for one consumer.
public enum DeadLetterPolicy: String, Sendable, Hashable {
    /// They wait until an operator replays or discards it (the consumer sees the complete order).
    case wait
    /// They flow; the dead one comes when replayed, out of order.
    case proceed
}

/// Consumer names double as SQL values and log keys: keep them plain.
enum ConsumerName {
    static func isValid(_ name: String) -> Bool {
        name.range(of: "^[a-z][a-z0-9_]{0,62}$", options: .regularExpression) != nil
    }
}
