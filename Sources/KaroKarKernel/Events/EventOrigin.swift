public import Foundation
public import KaroKarMessages
public import KaroKarRPC
public import KaroKarPostgres

/// Who and what caused the events of one unit of work: copied into every envelope it publishes.
public struct EventOrigin: Sendable, Hashable {
    public var actor: EventsV1.Actor
    /// The acting tenant; empty only for system work on behalf of no tenant.
    public var organizationID: String
    /// The RPC call (or job run) that caused the events.
    public var correlationID: String

    public init(actor: EventsV1.Actor, organizationID: String, correlationID: String) {
        self.actor = actor
        self.organizationID = organizationID
        self.correlationID = correlationID
    }

    /// The server itself (a sweep, a timer), with a fresh correlation id per run.
    public static func system(organizationID: String = "", correlationID: String = UUID.random().lowercasedString) -> EventOrigin {
        EventOrigin(actor: EventsV1.Actor(type: .system), organizationID: organizationID, correlationID: correlationID)
    }

    /// A reaction to `event`: the system acts, in the event's tenant and correlation.
    public static func reaction(to event: EventsV1.EventEnvelope) -> EventOrigin {
        EventOrigin(actor: EventsV1.Actor(type: .system), organizationID: event.organizationId, correlationID: event.correlationId)
    }
}

/// What a context says about one change; the bus completes it into an ``EventsV1/EventEnvelope``.
public struct EventDraft: Sendable, Hashable {
    public var eventType: String
    public var aggregateType: String
    public var aggregateID: String
    /// The aggregate's version after the change; 0 when it is not versioned.
    public var aggregateVersion: Int64
    public var payload: EventsV1.EventEnvelope.PayloadOneof
    /// The payload's schema version.
    public var schemaVersion: UInt32

    public init(
        _ eventType: String, aggregateType: String, aggregateID: String, aggregateVersion: Int64 = 0,
        payload: EventsV1.EventEnvelope.PayloadOneof, schemaVersion: UInt32 = 1
    ) {
        self.eventType = eventType
        self.aggregateType = aggregateType
        self.aggregateID = aggregateID
        self.aggregateVersion = aggregateVersion
        self.payload = payload
        self.schemaVersion = schemaVersion
    }

    func envelope(origin: EventOrigin, at instant: Instant) -> EventsV1.EventEnvelope {
        EventsV1.EventEnvelope(
            eventId: UUID.timeOrdered(unixMilliseconds: instant.microseconds / 1000).lowercasedString, eventType: eventType,
            aggregateType: aggregateType,
            aggregateId: aggregateID, occurredAt: instant.timestamp,
            version: schemaVersion, actor: origin.actor, organizationId: origin.organizationID,
            correlationId: origin.correlationID, aggregateVersion: aggregateVersion, payload: payload
        )
    }
}

extension EventOrigin {
    /// The origin of a call's events: its caller (a user or a service account) and tenant, and a
    /// correlation id taken from `request-id`, else the trace id of `traceparent`, else fresh.
    public init(call context: ServerCallContext) {
        let actor: EventsV1.Actor
        switch context.caller?.kind {
        case .user?: actor = EventsV1.Actor(id: context.caller!.principalID.lowercasedString, type: .user)
        case .serviceAccount?: actor = EventsV1.Actor(id: context.caller!.principalID.lowercasedString, type: .serviceAccount)
        case .system?, .anonymous?, nil: actor = EventsV1.Actor(type: .system)
        }
        self.init(
            actor: actor, organizationID: context.caller?.organizationID.lowercasedString ?? "",
            correlationID: Self.correlationID(context.metadata)
        )
    }

    static func correlationID(_ metadata: Metadata) -> String {
        if let bytes = metadata.bytes(for: "request-id"), (1...128).contains(bytes.count),
           let text = String(validating: bytes, as: UTF8.self), !text.contains(where: { $0.isNewline }) {
            return text
        }
        if let bytes = metadata.bytes(for: "traceparent"), let text = String(validating: bytes, as: UTF8.self) {
            let parts = text.split(separator: "-")
            if parts.count == 4, parts[1].utf8.count == 32, parts[1].allSatisfy(\.isHexDigit) { return String(parts[1]) }
        }
        return UUID.random().lowercasedString
    }
}
