import Foundation
import KaroKarKernel

/// The status an OrganizationApproval row records (DOMAIN.md section 11).
enum ApprovalStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case pending = "PENDING"
    case approved = "APPROVED"
    case rejected = "REJECTED"
    case revoked = "REVOKED"
    case reinstated = "REINSTATED"
}

/// A platform administrator's decision about an organization.
enum Decision: String, Sendable, Hashable, CaseIterable {
    case approve
    case reject
    case suspend
    case reinstate

    /// The row it appends.
    var recorded: ApprovalStatus {
        switch self {
        case .approve: .approved
        case .reject: .rejected
        case .suspend: .revoked
        case .reinstate: .reinstated
        }
    }

    /// The organization's status afterwards.
    var organizationStatus: TenantStatus {
        switch self {
        case .approve, .reinstate: .active
        case .reject: .rejected
        case .suspend: .suspended
        }
    }

    /// `organization.approved`, ...
    var eventType: String {
        switch self {
        case .approve: "organization.approved"
        case .reject: "organization.rejected"
        case .suspend: "organization.suspended"
        case .reinstate: "organization.reinstated"
        }
    }
}

/// The approval history as a state machine over its latest row: registration opens `PENDING`;
/// `PENDING` is approved or rejected; an approved (or reinstated) organization can be
/// suspended (`REVOKED`), and a suspended one reinstated. `REJECTED` is terminal.
enum ApprovalStateMachine {
    static func next(after latest: ApprovalStatus, _ decision: Decision) -> ApprovalStatus? {
        switch (latest, decision) {
        case (.pending, .approve), (.pending, .reject), (.approved, .suspend), (.reinstated, .suspend), (.revoked, .reinstate):
            decision.recorded
        default:
            nil
        }
    }

    /// The decision refused, with its stable code.
    static func refusal(_ decision: Decision, after latest: ApprovalStatus) -> DomainError {
        DomainError.failedPrecondition(
            "INVALID_APPROVAL_TRANSITION", "an organization whose latest approval is \(latest.rawValue) cannot be given \(decision.rawValue)"
        )
    }
}

/// Administration's copy of an organization (fed by `organization.registered` and its own decisions).
struct OrganizationSummaryRecord: Sendable, Hashable, Codable {
    var organizationID: UUID
    var name: String
    var kind: TenantKind
    var status: TenantStatus
    var applicantUserID: UUID
    var registeredAt: Instant
    /// The organization's version (Identity checks it when it applies a decision).
    var version: Int64
}

struct ApprovalRecord: Sendable, Hashable, Codable {
    var id: UUID
    var organizationID: UUID
    var status: ApprovalStatus
    var reviewedBy: UUID?
    var reviewerOrganizationID: UUID?
    var reviewedAt: Instant?
    var notes: String?
    var createdAt: Instant
    var sequence: Int64
}

/// What a moderation verb targeted.
enum ModerationActionType: String, Sendable, Hashable, CaseIterable, Codable {
    case suspendVehicle = "SUSPEND_VEHICLE"
    case blockVehicle = "BLOCK_VEHICLE"
    case terminateBooking = "TERMINATE_BOOKING"
    case disableUser = "DISABLE_USER"
}

struct ModerationActionRecord: Sendable, Hashable, Codable {
    var id: UUID
    var actionType: ModerationActionType
    var targetType: String
    var targetID: UUID
    var notes: String
    var performedBy: UUID
    var performedAt: Instant
}

/// A decision and what it recorded: the organization afterwards and the new approval row.
struct DecisionOutcome: Sendable, Hashable, Codable {
    var organization: OrganizationSummaryRecord
    var approval: ApprovalRecord
}

/// A page of the pending queue: each organization with its open approval.
struct PendingApproval: Sendable, Hashable {
    var organization: OrganizationSummaryRecord
    var approval: ApprovalRecord
}

/// How many organizations of one type are in one status.
struct OrganizationCount: Sendable, Hashable {
    var kind: TenantKind
    var status: TenantStatus
    var count: Int64
}

/// How many bookings or vehicles are in one status (the stored spelling, `REQUESTED`, `ACTIVE`).
struct StatusCount: Sendable, Hashable {
    var status: String
    var count: Int64
}

typealias BookingCount = StatusCount

/// The status a vehicle is in after one of Fleet's lifecycle events; nil for other events.
/// `vehicle.suspension_lifted` says which (`ACTIVE`, or still `SUSPENDED` while another
/// suspension is open).
enum VehicleStatusEvents {
    static let types = ["vehicle.registered", "vehicle.activated", "vehicle.suspended", "vehicle.suspension_lifted", "vehicle.retired"]

    static func status(after eventType: String, liftedTo: String?) -> String? {
        switch eventType {
        case "vehicle.registered": "PENDING"
        case "vehicle.activated": "ACTIVE"
        case "vehicle.suspended": "SUSPENDED"
        case "vehicle.suspension_lifted": liftedTo
        case "vehicle.retired": "RETIRED"
        default: nil
        }
    }
}

/// Organizations per type and status, bookings per status, and when they were counted.
struct DashboardCounts: Sendable, Hashable {
    var organizations: [OrganizationCount]
    var bookings: [BookingCount] = []
    var vehicles: [StatusCount] = []
    var computedAt: Instant

    /// Vendors and corporates waiting for a decision.
    var pendingApprovals: Int64 {
        organizations.filter { $0.status == .pending && $0.kind != .platform }.reduce(0) { $0 + $1.count }
    }
}

/// Who may use Administration's verbs: platform administrators acting for the platform
/// organization (the access rule asks for organization.approve; this is defence in depth).
enum PlatformOnly {
    static func check(_ caller: Caller) throws(DomainError) {
        guard caller.actsAcrossTenants, caller.has(.organizationApprove) else {
            throw DomainError.permissionDenied("only platform administrators may do this")
        }
    }
}
