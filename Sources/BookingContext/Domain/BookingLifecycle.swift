import Foundation
import KaroKarKernel

/// Where a booking stands (DOMAIN.md section 6). Stored as these names.
enum BookingStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case draft = "DRAFT"
    case requested = "REQUESTED"
    case approved = "APPROVED"
    case rejected = "REJECTED"
    case assigned = "ASSIGNED"
    case active = "ACTIVE"
    case completed = "COMPLETED"
    case terminated = "TERMINATED"
    case cancelled = "CANCELLED"

    /// REJECTED, COMPLETED, TERMINATED and CANCELLED: nothing follows.
    var isTerminal: Bool { [.rejected, .completed, .terminated, .cancelled].contains(self) }

    /// The statuses in which the vehicle is held by an availability record.
    var holdsTheVehicle: Bool { [.approved, .assigned, .active].contains(self) }

    /// Counted against an employee's allocation (DOMAIN.md 6.1: "non-terminal bookings").
    static let counted: [BookingStatus] = [.requested, .approved, .assigned, .active]
}

/// What can be asked of a booking: each business verb is one command.
enum BookingCommand: String, Sendable, Hashable, CaseIterable, Codable {
    case submit
    case approve
    case reject
    case assign
    case activate
    case complete
    case terminate
    case cancel

    /// The event the transition publishes.
    var eventType: String {
        switch self {
        case .submit: "booking.requested"
        case .approve: "booking.approved"
        case .reject: "booking.rejected"
        case .assign: "booking.assigned"
        case .activate: "booking.activated"
        case .complete: "booking.completed"
        case .terminate: "booking.terminated"
        case .cancel: "booking.cancelled"
        }
    }
}

/// DOMAIN.md's transition table, and nothing else: a pure function of (state, command).
///
/// | from | to |
/// |---|---|
/// | DRAFT | REQUESTED |
/// | REQUESTED | APPROVED, REJECTED, CANCELLED |
/// | APPROVED | ASSIGNED, CANCELLED |
/// | ASSIGNED | ACTIVE, CANCELLED |
/// | ACTIVE | COMPLETED, TERMINATED |
enum BookingStateMachine {
    /// The status after `command`, or nil when the table does not allow it.
    static func next(from status: BookingStatus, _ command: BookingCommand) -> BookingStatus? {
        switch (status, command) {
        case (.draft, .submit): .requested
        case (.requested, .approve): .approved
        case (.requested, .reject): .rejected
        case (.requested, .cancel), (.approved, .cancel), (.assigned, .cancel): .cancelled
        case (.approved, .assign): .assigned
        case (.assigned, .activate): .active
        case (.active, .complete): .completed
        case (.active, .terminate): .terminated
        default: nil
        }
    }

    /// The status after `command`, or FAILED_PRECONDITION / `INVALID_BOOKING_TRANSITION`.
    static func checked(from status: BookingStatus, _ command: BookingCommand) throws(DomainError) -> BookingStatus {
        guard let next = next(from: status, command) else {
            throw DomainError.failedPrecondition(
                "INVALID_BOOKING_TRANSITION", "a booking that is \(status.rawValue) cannot be given \(command.rawValue)"
            )
        }
        return next
    }
}

/// Why an ACTIVE booking ended early (DOMAIN.md section 6).
enum TerminationReason: String, Sendable, Hashable, CaseIterable, Codable {
    case vehicleBreakdown = "VEHICLE_BREAKDOWN"
    case accident = "ACCIDENT"
    case vendorRecall = "VENDOR_RECALL"
    case corporateRecall = "CORPORATE_RECALL"
    case employeeExit = "EMPLOYEE_EXIT"
    case complianceViolation = "COMPLIANCE_VIOLATION"
    case insuranceExpired = "INSURANCE_EXPIRED"
    case adminAction = "ADMIN_ACTION"
    case other = "OTHER"
}
