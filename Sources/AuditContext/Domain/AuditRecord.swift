public import Foundation
public import KaroKarKernel

/// Who did what, to which entity, when, for which tenant: one record per event (DOMAIN.md
/// section 10), immutable, at its place in the hash chain.
public struct AuditRecord: Sendable, Hashable {
    public let id: UUID
    /// Position in the one global chain, from 1, without gaps.
    public let sequence: Int64
    public let eventID: UUID
    public let eventType: String
    public let entityType: String
    public let entityID: String
    /// Nil for the system.
    public let actorID: String?
    public let actorType: AuditActorType
    /// The acting tenant; nil for system work on behalf of no tenant.
    public let organizationID: UUID?
    public let occurredAt: Instant
    public let recordedAt: Instant
    public let correlationID: String
    /// The event's envelope exactly as published (protobuf).
    public let payload: [UInt8]
    public let previousHash: [UInt8]
    public let recordHash: [UInt8]
}

/// Copy of the events' actor types.
public enum AuditActorType: String, Sendable, Hashable, CaseIterable {
    case user = "USER"
    case serviceAccount = "SERVICE_ACCOUNT"
    case system = "SYSTEM"
    case unspecified = "UNSPECIFIED"
}

/// A query's filters; every one given must hold.
public struct AuditFilter: Sendable, Hashable {
    /// Nil: every organization (platform administrators only; tenants are pinned to their own).
    public var organizationID: UUID?
    public var occurredAfter: Instant?
    public var occurredBefore: Instant?
    public var entityType: String?
    public var entityID: String?
    public var actorID: String?
    public var actorType: AuditActorType?
    /// Event names or `aggregate.*` wildcards; empty: every type.
    public var eventTypes: [String] = []
    public var correlationID: String?
    public var oldestFirst = false

    public init() {}

    /// The SQL `LIKE` patterns of ``eventTypes`` (`booking.*` -> `booking.%`, `_` escaped).
    var likePatterns: [String] {
        eventTypes.map { pattern in
            let exact = pattern.hasSuffix(".*") ? String(pattern.dropLast()) : pattern
            let escaped = exact.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "_", with: "\\_")
                .replacingOccurrences(of: "%", with: "\\%")
            return pattern.hasSuffix(".*") ? escaped + "%" : escaped
        }
    }
}

/// The sort key of audit pages: (occurred_at, sequence).
public struct AuditKey: PageKey, Hashable {
    public let occurredAt: Instant
    public let sequence: Int64

    public init(_ occurredAt: Instant, _ sequence: Int64) {
        self.occurredAt = occurredAt
        self.sequence = sequence
    }

    public var pageTokenComponents: [String] { [String(occurredAt.microseconds), String(sequence)] }

    public init?(pageTokenComponents parts: [String]) {
        guard parts.count == 2, let micros = Int64(parts[0]), let sequence = Int64(parts[1]), sequence > 0 else { return nil }
        self.init(Instant(microseconds: micros), sequence)
    }
}

/// The result of recomputing the chain over a range.
public struct ChainReport: Sendable, Hashable {
    public let intact: Bool
    public let firstSequence: Int64
    public let lastSequence: Int64
    public let recordsChecked: Int64
    public let firstBrokenSequence: Int64?
    /// `HASH_MISMATCH`, `LINK_MISMATCH` or `SEQUENCE_GAP`; empty when intact.
    public let failureCode: String
    public let headHash: [UInt8]
    public let verifiedAt: Instant
}

/// The completeness check: events of the outbox in a time range without their audit record.
public struct CompletenessReport: Sendable, Hashable {
    public let eventsInOutbox: Int64
    public let eventsAudited: Int64
    /// The first missing events' ids (at most the limit asked for), oldest first.
    public let missingEventIDs: [UUID]
    public var complete: Bool { eventsAudited == eventsInOutbox && missingEventIDs.isEmpty }
}
