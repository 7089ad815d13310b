import Foundation
import KaroKarKernel

/// What an availability record holds the vehicle for (DOMAIN.md section 5).
enum HoldStatus: String, Sendable, CaseIterable, Codable {
    case reserved = "RESERVED"
    case allocated = "ALLOCATED"
    case maintenance = "MAINTENANCE"
    case suspended = "SUSPENDED"
    case blocked = "BLOCKED"
}

/// The kind of thing that owns an availability record.
enum HoldSource: String, Sendable, CaseIterable, Codable {
    case booking = "BOOKING"
    case assignment = "ASSIGNMENT"
    case maintenance = "MAINTENANCE"
    case suspension = "SUSPENSION"
    case manualBlock = "MANUAL_BLOCK"
}

/// One record of a vehicle's timeline: history, never deleted; a release is final.
struct AvailabilityRecord: Sendable, Hashable, Codable {
    var id: UUID
    var vehicleID: UUID
    var organizationID: UUID
    var period: Period
    var status: HoldStatus
    var source: HoldSource
    var sourceID: UUID
    var createdAt: Instant
    var releasedAt: Instant?
    var version: Int64
}

/// A record to place on a vehicle's timeline: what it holds the vehicle for, when, for whom.
struct Hold: Sendable, Hashable {
    var period: Period
    var status: HoldStatus
    var source: HoldSource
    var sourceID: UUID
}

/// The shape rules of a record, also enforced by the database's CHECK constraints; checked here
/// first to answer with a clear field violation instead of a constraint name.
enum HoldRules {
    static func sourceFits(_ status: HoldStatus, _ source: HoldSource) -> Bool {
        switch status {
        case .reserved: source == .booking
        case .allocated: source == .booking || source == .assignment
        case .maintenance: source == .maintenance
        case .suspended: source == .suspension
        case .blocked: source == .manualBlock
        }
    }

    /// Open ends are explicit and only for suspensions and open-ended assignments.
    static func mayBeOpenEnded(_ status: HoldStatus, _ source: HoldSource) -> Bool {
        status == .suspended || (status == .allocated && source == .assignment)
    }

    /// The engine's RPCs place and release BOOKING and ASSIGNMENT records only: Fleet's own
    /// aggregates (maintenance, suspensions, blocks) own theirs, so a record never outlives or
    /// predates what it stands for.
    static func checkPlacedByEngine(_ source: HoldSource, _ verb: String) throws(DomainError) {
        guard source == .booking || source == .assignment else {
            throw DomainError.failedPrecondition(
                "SOURCE_MANAGED_BY_FLEET", "maintenance, suspension and block records are \(verb) through their own verbs"
            )
        }
    }

    /// The only status change: an approved booking's open reservation becomes an allocation.
    static func checkChange(_ record: AvailabilityRecord, to status: HoldStatus) throws(DomainError) {
        guard record.releasedAt == nil, record.status == .reserved, status == .allocated else {
            throw DomainError.failedPrecondition("INVALID_AVAILABILITY_TRANSITION", "only an open RESERVED record can become ALLOCATED")
        }
    }
}
