import Foundation
import KaroKarKernel

/// Who reaches an assignment, and the Assignment context's domain codes. An employee reaches their
/// own assignments; the corporate's managers (assignment.read / .manage / .create) all of the
/// corporate's; platform administrators every one. Anything else answers NOT_FOUND.
enum AssignmentTenancy {
    static func isOwn(_ assignment: AssignmentRecord, _ caller: Caller) -> Bool {
        caller.kind != .anonymous && caller.organizationID == assignment.corporateID && caller.principalID == assignment.employeeID
    }

    static func mayRead(_ assignment: AssignmentRecord, _ caller: Caller) -> Bool {
        if caller.actsAcrossTenants { return true }
        guard caller.organizationID == assignment.corporateID, caller.kind != .anonymous else { return false }
        return caller.has(.assignmentRead) || caller.has(.assignmentManage) || isOwn(assignment, caller)
    }

    /// The employee's verbs: accept, reject (their own only).
    static func checkOwn(_ assignment: AssignmentRecord, _ caller: Caller) throws(DomainError) {
        guard isOwn(assignment, caller) else {
            if mayRead(assignment, caller) { throw DomainError.permissionDenied("only the assigned employee may answer an assignment") }
            throw DomainError.notFound("assignment")
        }
    }

    /// The corporate's verbs: reassign, activate, complete, close.
    static func checkManaged(_ assignment: AssignmentRecord, _ caller: Caller) throws(DomainError) {
        if caller.isSystem { return }
        guard caller.organizationID == assignment.corporateID, caller.has(.assignmentManage) else {
            if mayRead(assignment, caller) { throw DomainError.permissionDenied("only the corporate's managers may do this") }
            throw DomainError.notFound("assignment")
        }
    }
}

enum AssignmentError {
    static func notAccepted() -> DomainError {
        .failedPrecondition("ASSIGNMENT_NOT_ACCEPTED", "the booking's assignment must be ACCEPTED by the employee before handover")
    }

    static func bookingManaged() -> DomainError {
        .failedPrecondition("BOOKING_MANAGED", "a booking's assignment is handed over and returned through the booking")
    }

    static func employeeNotMember() -> DomainError {
        .failedPrecondition("EMPLOYEE_NOT_ACTIVE_MEMBER", "the employee must be an ACTIVE member of the corporate")
    }

    static func vehicleNotAssignable() -> DomainError {
        .failedPrecondition("VEHICLE_NOT_ASSIGNABLE", "only the corporate's own ACTIVE corporate-owned vehicles are assigned directly")
    }

    static func corporatesOnly() -> DomainError {
        .permissionDenied("only corporate organizations assign vehicles")
    }
}
