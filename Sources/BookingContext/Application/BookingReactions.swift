import Foundation
import KaroKarKernel
import KaroKarMessages

/// What Booking does inside other contexts' transactions:
///
/// | event | Booking |
/// |---|---|
/// | `moderation.booking_termination_requested` | terminates the ACTIVE booking with ADMIN_ACTION; if it cannot (unknown booking, not ACTIVE, stale version), the moderation verb fails and nothing is logged |
/// | `assignment.created` replacing another (a reassignment) | the booking's assignee follows: its allocation count moves from the old employee to the new one, race-free; its status, version and events stay as they were |
extension Booking {
    nonisolated func subscribeReactions(to bus: EventBus) {
        bus.react(to: "moderation.booking_termination_requested", as: "booking.moderation") { event, work in
            try await self.moderate(event, work)
        }
        bus.react(to: "assignment.created", as: "booking.reassignment") { event, work in
            try await self.followReassignment(event, work)
        }
    }

    /// A reassignment (an assignment of a booking that replaces another) makes the new employee
    /// the booking's assignee. Both employees' allocation lock rows are taken first (in id order,
    /// so two reassignments never wait on each other crosswise): a self-booking submission or
    /// approval of either employee that runs at the same time counts after this commits. The
    /// reassignment is not refused for the new employee's allocation, as AssignBooking is not:
    /// allocations limit what employees book for themselves, not what the corporate gives them.
    nonisolated func followReassignment(_ event: EventsV1.EventEnvelope, _ work: UnitOfWork) async throws {
        guard case .assignmentCreated(let created) = event.payload, let bookingID = created.bookingId,
              created.replacesAssignmentId != nil
        else { return }
        var check = Validation()
        let id = check.uuid(bookingID.value, "bookingId")
        let employee = check.uuid(created.employeeId, "employeeId")
        let assignment = check.uuid(created.assignmentId, "assignmentId")
        try check.finish()
        guard let booking = try await BookingStore.lock(id, work) else { throw DomainError.notFound("booking") }
        guard booking.status == .assigned || booking.status == .active else {
            throw DomainError.failedPrecondition("INVALID_BOOKING_TRANSITION", "only an ASSIGNED or ACTIVE booking's assignment is reassigned")
        }
        let people = Set([booking.assignee, employee].compactMap { $0 }).sorted { $0.lowercasedString < $1.lowercasedString }
        for person in people {
            try await AllocationStore.lockEmployee(person, of: booking.corporateID, work)
        }
        try await BookingStore.reassign(id, to: employee, assignment: assignment, work)
    }

    nonisolated func moderate(_ event: EventsV1.EventEnvelope, _ work: UnitOfWork) async throws {
        guard case .bookingTerminationRequested(let request) = event.payload else { return }
        var check = Validation()
        let id = check.uuid(request.bookingId, "bookingId")
        let action = check.optionalUUID(request.moderationActionId, "moderationActionId")
        try check.finish()
        _ = try await terminate(
            id, reason: .adminAction, notes: request.notes?.value, moderationAction: action, expectedVersion: request.expectedVersion?.value,
            caller: .system, by: event.actor?.id.isEmpty == false ? event.actor!.id : nil, work
        )
    }
}
