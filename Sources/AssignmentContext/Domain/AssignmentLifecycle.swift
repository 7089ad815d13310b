import Foundation
import KaroKarKernel

/// Where an assignment stands (DOMAIN.md section 7). Stored as these names.
enum AssignmentStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case pending = "PENDING"
    case accepted = "ACCEPTED"
    case rejected = "REJECTED"
    case active = "ACTIVE"
    case completed = "COMPLETED"
    case closed = "CLOSED"

    var isTerminal: Bool { [.rejected, .completed, .closed].contains(self) }
}

/// What can be asked of an assignment.
enum AssignmentCommand: String, Sendable, Hashable, CaseIterable, Codable {
    case accept
    case reject
    case activate
    case complete
    case close

    var eventType: String {
        switch self {
        case .accept: "assignment.accepted"
        case .reject: "assignment.rejected"
        case .activate: "assignment.activated"
        case .complete: "assignment.completed"
        case .close: "assignment.closed"
        }
    }
}

/// DOMAIN.md section 7's lifecycle, pure: `PENDING -> ACCEPTED | REJECTED`; `ACCEPTED -> ACTIVE`
/// (handover); `ACTIVE -> COMPLETED`; any non-terminal -> `CLOSED`.
enum AssignmentStateMachine {
    static func next(from status: AssignmentStatus, _ command: AssignmentCommand) -> AssignmentStatus? {
        switch (status, command) {
        case (.pending, .accept): .accepted
        case (.pending, .reject): .rejected
        case (.accepted, .activate): .active
        case (.active, .complete): .completed
        case (let from, .close) where !from.isTerminal: .closed
        default: nil
        }
    }

    static func checked(from status: AssignmentStatus, _ command: AssignmentCommand) throws(DomainError) -> AssignmentStatus {
        guard let next = next(from: status, command) else {
            throw DomainError.failedPrecondition(
                "INVALID_ASSIGNMENT_TRANSITION", "an assignment that is \(status.rawValue) cannot be given \(command.rawValue)"
            )
        }
        return next
    }
}

/// Why an assignment was closed.
enum CloseReason: String, Sendable, Hashable, CaseIterable, Codable {
    case reassigned = "REASSIGNED"
    case corporateAction = "CORPORATE_ACTION"
    case adminAction = "ADMIN_ACTION"
    case bookingCancelled = "BOOKING_CANCELLED"
    case bookingTerminated = "BOOKING_TERMINATED"
}

/// An assignment as stored (DOMAIN.md section 7: Booking -> Assignment -> Employee).
struct AssignmentRecord: Sendable, Hashable, Codable {
    var id: UUID
    /// Nil for a corporate-owned vehicle assigned directly.
    var bookingID: UUID?
    var vehicleID: UUID
    var corporateID: UUID
    var employeeID: UUID
    /// The booking's period, or for a corporate-owned vehicle one whose end may be open.
    var period: Period
    var status: AssignmentStatus
    /// A user id, or "system".
    var createdBy: String
    var respondedAt: Instant?
    var rejectionReason: String?
    var activatedAt: Instant?
    var completedAt: Instant?
    var closedAt: Instant?
    var closedBy: UUID?
    var closeReason: CloseReason?
    var closeNotes: String?
    var replaces: UUID?
    var replacedBy: UUID?
    /// The booking completed, was cancelled or terminated.
    var bookingEnded: Bool = false
    var version: Int64
    var createdAt: Instant
    var updatedAt: Instant

    /// A booking's assignment follows its booking (activation, completion); only a corporate-owned
    /// vehicle's is handed over and returned through Assignment's own verbs.
    var isDirect: Bool { bookingID == nil }
}

/// The old assignment, closed, and its replacement.
struct Reassignment: Sendable, Hashable, Codable {
    var closed: AssignmentRecord
    var created: AssignmentRecord
}

/// List filters of ListAssignments and ListMyAssignments.
struct AssignmentFilter: Sendable, Hashable {
    var statuses: [AssignmentStatus] = []
    var employee: UUID?
    var vehicle: UUID?
    var booking: UUID?
    var overlapping: Period?
}
