public import KaroKarMessages
public import KaroKarPostgres
import KaroKarProto
import NIOConcurrencyHelpers

/// One transaction of a context's work: its queries, and the events it publishes.
public struct UnitOfWork: Sendable {
    public let session: PostgresSession
    /// Copied into every event published here.
    public let origin: EventOrigin
    let bus: EventBus
    let depth: Int
    /// Shared by the unit of work and its reactions: whether anything was published.
    let journal: Journal

    init(session: PostgresSession, origin: EventOrigin, bus: EventBus, depth: Int, journal: Journal) {
        self.session = session
        self.origin = origin
        self.bus = bus
        self.depth = depth
        self.journal = journal
    }

    /// Runs one statement in the transaction.
    @discardableResult
    public func query(_ sql: SQL) async throws -> PostgresRows {
        try await session.query(sql)
    }

    /// Runs `action` once this unit of work has committed (not if it fails, and not for an
    /// attempt that was rolled back and retried: each attempt registers its own). For what only
    /// a committed transaction may start, such as handing the rows it wrote to a local worker.
    /// It runs on the committing task, right after COMMIT: keep it short.
    public func afterCommit(_ action: @escaping @Sendable () -> Void) {
        journal.afterCommit(action)
    }

    /// The same transaction, acting for another origin (a reaction on behalf of the system).
    public func acting(as origin: EventOrigin) -> UnitOfWork {
        UnitOfWork(session: session, origin: origin, bus: bus, depth: depth, journal: journal)
    }

    /// Publishes an event: writes it and its deliveries to the outbox (with the transaction's next
    /// statement or its commit, in one round trip), then runs the in-transaction
    /// reactions (in subscription order), any of which can veto the whole unit of work by throwing.
    @discardableResult
    public func publish(_ draft: EventDraft) async throws -> EventsV1.EventEnvelope {
        guard EventName.isValid(draft.eventType) else {
            preconditionFailure("invalid event name \(draft.eventType)")
        }
        guard depth < EventBus.maximumReactionDepth else {
            throw EventBusError.reactionsTooDeep(draft.eventType)
        }
        let envelope = draft.envelope(origin: origin, at: bus.clock.now())
        let consumers = bus.consumerNames(for: envelope.eventType)
        OutboxStore.append(envelope, consumers: consumers, known: bus.knownConsumers, session: session)
        journal.markPublished(deliveringTo: consumers)
        let reacting = UnitOfWork(session: session, origin: origin, bus: bus, depth: depth + 1, journal: journal)
        for reaction in bus.reactions(for: envelope.eventType) {
            try await reaction.handler(envelope, reacting)
        }
        return envelope
    }
}

/// What a unit of work did that matters after its commit.
final class Journal: Sendable {
    private struct State {
        var published = false
        var delivering = Set<String>()
        var afterCommit: [@Sendable () -> Void] = []
    }

    private let state = NIOLockedValueBox(State())

    init() {}

    /// An event was written, with deliveries to these after-commit consumers (none when every
    /// consumer of its type reads the log).
    func markPublished(deliveringTo consumers: [String]) {
        state.withLockedValue { state in
            state.published = true
            state.delivering.formUnion(consumers)
        }
    }

    func afterCommit(_ action: @escaping @Sendable () -> Void) {
        state.withLockedValue { $0.afterCommit.append(action) }
    }

    /// `body` in one transaction of `pool` (``PostgresPool/transaction(isolation:durable:maximumAttempts:_:)``)
    /// kept by this journal: each attempt starts with no after-commit actions (a retried
    /// attempt's are dropped with it), and those of the attempt that committed run once, after
    /// COMMIT. The one way the kernel opens a transaction that units of work run in.
    func transaction<R: Sendable>(
        _ pool: PostgresPool, isolation: IsolationLevel = .readCommitted, durable: Bool = true, _ body: (PostgresSession) async throws -> R
    ) async throws -> R {
        let result = try await pool.transaction(isolation: isolation, durable: durable) { session in
            state.withLockedValue { $0.afterCommit = [] }
            return try await body(session)
        }
        let actions = state.withLockedValue { state in
            defer { state.afterCommit = [] }
            return state.afterCommit
        }
        for action in actions { action() }
        return result
    }

    /// Whether anything was published: the relay's loops have something new after the commit.
    var hasEvents: Bool { state.withLockedValue { $0.published } }

    /// The consumers that got deliveries (their delivery loops are the ones to wake; log
    /// consumers wake on every commit that published).
    var consumers: Set<String> { state.withLockedValue { $0.delivering } }
}

/// Failures of the bus itself (a handler's own errors pass through unchanged).
public enum EventBusError: Error, CustomStringConvertible {
    case reactionsTooDeep(String)

    public var description: String {
        switch self {
        case .reactionsTooDeep(let eventType):
            "in-transaction reactions nested more than \(EventBus.maximumReactionDepth) deep publishing \(eventType)"
        }
    }
}
