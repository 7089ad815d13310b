import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarProto

/// Audit's one subscription: every event type, present and future (`*`), from the beginning of
/// the outbox, after commit, read from the outbox as a log (events migration 8: no delivery row
/// per event; in `seq` order, each event once, with the cursor's move in the same transaction).
/// A step that fails is retried while the database is unavailable; an event that fails alone is
/// parked as a dead letter for operators (the trail of the others goes on).
/// A new event type needs no audit code. Business contexts never write audit records.
enum AuditRecording {
    /// The consumer's durable name.
    static let consumer = "audit"

    static func subscribe(to bus: EventBus) {
        bus.consumeLog("*", as: consumer, from: .beginning) { events, work in
            try await record(events, work, recordedAt: bus.clock.now())
        }
    }

    /// Appends the events' records in order, under one lock of the chain head (an event recorded
    /// already changes nothing), with the consumer's commit. A malformed event fails the batch;
    /// read again alone, it is parked as a dead letter.
    static func record(_ events: [EventsV1.EventEnvelope], _ work: UnitOfWork, recordedAt: Instant) async throws {
        try await AuditStore.append(try events.map(newRecord), work, recordedAt: recordedAt)
    }

    /// The record of one event.
    static func newRecord(_ event: EventsV1.EventEnvelope) throws -> AuditStore.NewRecord {
        let actorType: AuditActorType = switch event.actor?.type {
        case .user?: .user
        case .serviceAccount?: .serviceAccount
        case .system?: .system
        default: .unspecified
        }
        let actorID = event.actor.map(\.id).flatMap { $0.isEmpty ? nil : $0 }
        guard let eventID = UUID(uuidString: event.eventId) else {
            throw AuditRecordingError.malformedEvent("event id \(event.eventId.prefix(64))")
        }
        return AuditStore.NewRecord(
            eventID: eventID, eventType: event.eventType, entityType: event.aggregateType, entityID: event.aggregateId,
            actorID: actorID, actorType: actorType, organizationID: UUID(uuidString: event.organizationId),
            occurredAt: event.occurredAt.map(Instant.init) ?? Instant(microseconds: 0), correlationID: event.correlationId,
            payload: ProtoCodec.encode(event)
        )
    }
}

/// An event the trail cannot record (parked as a dead letter for an operator).
enum AuditRecordingError: Error, CustomStringConvertible {
    case malformedEvent(String)

    var description: String {
        switch self {
        case .malformedEvent(let what): "malformed event: \(what)"
        }
    }
}
