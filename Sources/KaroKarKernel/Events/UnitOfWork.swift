public import KaroKarMessages
public import KaroKarPostgres
import KaroKarProto

/// One transaction of a context's work: its queries, and the events it publishes.
public struct UnitOfWork: Sendable {
    public let session: PostgresSession
    /// Copied into every event published here.
    public let origin: EventOrigin
    let bus: EventBus
    let depth: Int

    /// Runs one statement in the transaction.
    @discardableResult
    public func query(_ sql: SQL) async throws -> PostgresRows {
        try await session.query(sql)
    }

    /// The same transaction, acting for another origin (a reaction on behalf of the system).
    public func acting(as origin: EventOrigin) -> UnitOfWork {
        UnitOfWork(session: session, origin: origin, bus: bus, depth: depth)
    }

    /// Publishes an event: writes it and its deliveries to the outbox, then runs the in-transaction
    /// reactions (in subscription order), any of which can veto the whole unit of work by throwing.
    @discardableResult
    public func publish(_ draft: EventDraft) async throws -> EventsV1.EventEnvelope {
        guard EventName.isValid(draft.eventType) else {
            preconditionFailure("invalid event name \(draft.eventType)")
        }
        guard depth < EventBus.maximumReactionDepth else {
            throw EventBusError.reactionsTooDeep(draft.eventType)
        }
        let envelope = draft.envelope(origin: origin, at: bus.now())
        try await OutboxStore.append(envelope, consumers: bus.consumerNames(for: envelope.eventType), session: session)
        let reacting = UnitOfWork(session: session, origin: origin, bus: bus, depth: depth + 1)
        for reaction in bus.reactions(for: envelope.eventType) {
            try await reaction.handler(envelope, reacting)
        }
        return envelope
    }
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
