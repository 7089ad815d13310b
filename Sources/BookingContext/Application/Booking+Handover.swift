import Foundation
import KaroKarKernel

/// From the vendor's approval to the end (DOMAIN.md section 6): assign to an employee, hand
/// over, complete, terminate. Fleet (the availability record) and Assignment (the employee's
/// assignment) react to each event inside the same transaction.
extension Booking {
    /// APPROVED -> ASSIGNED to an ACTIVE member of the booking's corporate: Fleet makes the
    /// record ALLOCATED, Assignment creates the PENDING assignment with the id chosen here.
    nonisolated func assignBooking(_ id: UUID, employee: UUID, expectedVersion: Int64?, _ invocation: Invocation) async throws -> AssignedBooking {
        try await bus.mutation(invocation) { work in
            let booking = try await transition(id, .assign, expectedVersion: expectedVersion, caller: invocation.caller, work,
                                               authorize: { booking, caller in
                try BookingTenancy.checkCorporateVerb(booking, caller, full: .bookingAssign)
            }, apply: { booking, work in
                guard let member = try await members.member(user: employee, organization: booking.corporateID, on: work),
                      member.mayReceiveVehicles
                else { throw BookingError.employeeNotMember() }
                booking.assignee = employee
                booking.assignmentID = UUID.random()
            })
            return AssignedBooking(booking: booking, assignmentID: booking.assignmentID!)
        }
    }

    /// ASSIGNED -> ACTIVE at handover, with the odometer, fuel and condition read then.
    /// Assignment vetoes unless the booking's assignment is ACCEPTED (`ASSIGNMENT_NOT_ACCEPTED`).
    nonisolated func activateBooking(
        _ id: UUID, evidence: HandoverReading, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> BookingRecord {
        try await transition(id, .activate, expectedVersion: expectedVersion, invocation, authorize: { booking, caller in
            try BookingTenancy.checkCorporateVerb(booking, caller, full: .bookingActivate)
        }, apply: { booking, _ in
            booking.activatedAt = booking.updatedAt
            booking.handover = evidence.recorded(by: invocation.caller.principalID, at: booking.updatedAt)
        })
    }

    /// ACTIVE -> COMPLETED with the return's evidence (the odometer never below the handover's):
    /// Fleet releases the record, Assignment completes the assignment.
    nonisolated func completeBooking(
        _ id: UUID, evidence: HandoverReading, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> BookingRecord {
        try await transition(id, .complete, expectedVersion: expectedVersion, invocation, authorize: { booking, caller in
            try BookingTenancy.checkCorporateVerb(booking, caller, full: .bookingComplete)
        }, apply: { booking, _ in
            try evidence.checkReturn(after: booking.handover)
            booking.completedAt = booking.updatedAt
            booking.returnEvidence = evidence.recorded(by: invocation.caller.principalID, at: booking.updatedAt)
        })
    }

    /// ACTIVE -> TERMINATED by the corporate or a platform administrator (ADMIN_ACTION is theirs
    /// alone): the termination is stored, Fleet releases the record (and for ACCIDENT or
    /// VEHICLE_BREAKDOWN holds the vehicle for maintenance from now), Assignment closes the assignment.
    nonisolated func terminateBooking(
        _ id: UUID, reason: TerminationReason, notes: String?, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> BookingRecord {
        guard reason != .adminAction || invocation.caller.actsAcrossTenants else { throw BookingError.adminActionReserved() }
        return try await bus.mutation(invocation) { work in
            try await terminate(id, reason: reason, notes: notes, moderationAction: nil, expectedVersion: expectedVersion,
                                caller: invocation.caller, by: nil, work)
        }
    }

    /// The termination inside `work` (the RPC, and Administration's moderation as the system,
    /// recorded as terminated `by` the administrator).
    nonisolated func terminate(
        _ id: UUID, reason: TerminationReason, notes: String?, moderationAction: UUID?, expectedVersion: Int64?, caller: Caller,
        by actor: String?, _ work: UnitOfWork
    ) async throws -> BookingRecord {
        try await transition(id, .terminate, expectedVersion: expectedVersion, caller: caller, work, authorize: { booking, caller in
            try BookingTenancy.checkCorporateVerb(booking, caller, full: .bookingTerminate, platformToo: true)
        }, apply: { booking, _ in
            booking.termination = BookingTermination(
                reason: reason, terminatedBy: actor ?? caller.actorName, terminatedAt: booking.updatedAt, notes: notes, moderationAction: moderationAction
            )
        })
    }
}
