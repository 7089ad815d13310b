import Foundation
import KaroKarKernel
import KaroKarPostgres

/// The status an OrganizationApproval row records (DOMAIN.md section 11).
enum ApprovalStatus: String, Sendable, Hashable, CaseIterable {
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
struct OrganizationSummaryRecord: Sendable, Hashable {
    var organizationID: UUID
    var name: String
    var kind: TenantKind
    var status: TenantStatus
    var applicantUserID: UUID
    var registeredAt: PostgresTimestamp
    /// The organization's version (Identity checks it when it applies a decision).
    var version: Int64
}

struct ApprovalRecord: Sendable, Hashable {
    var id: UUID
    var organizationID: UUID
    var status: ApprovalStatus
    var reviewedBy: UUID?
    var reviewerOrganizationID: UUID?
    var reviewedAt: PostgresTimestamp?
    var notes: String?
    var createdAt: PostgresTimestamp
    var sequence: Int64
}

/// What a moderation verb targeted.
enum ModerationActionType: String, Sendable, Hashable, CaseIterable {
    case suspendVehicle = "SUSPEND_VEHICLE"
    case blockVehicle = "BLOCK_VEHICLE"
    case terminateBooking = "TERMINATE_BOOKING"
    case disableUser = "DISABLE_USER"
}

struct ModerationActionRecord: Sendable, Hashable {
    var id: UUID
    var actionType: ModerationActionType
    var targetType: String
    var targetID: UUID
    var notes: String
    var performedBy: UUID
    var performedAt: PostgresTimestamp
}
