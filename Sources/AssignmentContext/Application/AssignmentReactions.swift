import Foundation
import KaroKarKernel
import KaroKarMessages

/// A booking's assignment follows its booking, inside the Booking context's transactions:
///
/// | event | Assignment |
/// |---|---|
/// | `booking.assigned` | creates the assignment with the id Booking chose: PENDING, or ACCEPTED for an employee's own booking |
/// | `booking.activated` | the live assignment must be ACCEPTED (else the activation is vetoed: `ASSIGNMENT_NOT_ACCEPTED`); it becomes ACTIVE |
/// | `booking.completed` | the ACTIVE assignment is COMPLETED |
/// | `booking.cancelled`, `booking.terminated` | the live assignment is CLOSED (BOOKING_CANCELLED / BOOKING_TERMINATED) |
///
/// After completion, cancellation or termination no assignment of the booking is reassigned.
extension Assignment {
    nonisolated func subscribeReactions(to bus: EventBus) {
        bus.react(to: "booking.assigned", "booking.activated", "booking.completed", "booking.cancelled", "booking.terminated",
                  as: "assignment.bookings") { event, work in
            try await self.followBooking(event, work)
        }
    }

    nonisolated func followBooking(_ event: EventsV1.EventEnvelope, _ work: UnitOfWork) async throws {
        switch event.payload {
        case .bookingAssigned(let booking):
            try await assigned(booking, work)
        case .bookingActivated(let booking):
            guard let live = try await AssignmentStore.lockLive(ofBooking: try id(booking.bookingId), work), live.status == .accepted else {
                throw AssignmentError.notAccepted()
            }
            _ = try await move(live, .activate, work) { $0.activatedAt = $0.updatedAt }
        case .bookingCompleted(let booking):
            let id = try id(booking.bookingId)
            if let live = try await AssignmentStore.lockLive(ofBooking: id, work), live.status == .active {
                _ = try await move(live, .complete, work) {
                    $0.completedAt = $0.updatedAt
                    $0.bookingEnded = true
                }
            }
            AssignmentStore.markBookingEnded(id, work)
        case .bookingCancelled(let booking):
            try await end(try id(booking.bookingId), .bookingCancelled, work)
        case .bookingTerminated(let booking):
            try await end(try id(booking.bookingId), .bookingTerminated, work)
        default:
            return
        }
    }

    private nonisolated func assigned(_ booking: EventsV1.BookingAssigned, _ work: UnitOfWork) async throws {
        var check = Validation()
        let assignmentID = check.uuid(booking.assignmentId, "assignmentId")
        let bookingID = check.uuid(booking.bookingId, "bookingId")
        let vehicle = check.uuid(booking.vehicleId, "vehicleId")
        let corporate = check.uuid(booking.corporateOrganizationId, "corporateOrganizationId")
        let employee = check.uuid(booking.employeeId, "employeeId")
        let period = check.period(booking.period, "period")
        try check.finish()
        let record = newAssignment(
            id: assignmentID, booking: bookingID, vehicle: vehicle, corporate: corporate, employee: employee, period: period,
            status: booking.selfBooking ? .accepted : .pending, createdBy: booking.assignedBy.isEmpty ? "system" : booking.assignedBy
        )
        _ = try await create(record, work)
    }

    private nonisolated func end(_ booking: UUID, _ reason: CloseReason, _ work: UnitOfWork) async throws {
        if let live = try await AssignmentStore.lockLive(ofBooking: booking, work) {
            _ = try await move(live, .close, work) {
                $0.close(reason, by: .system, notes: nil)
                $0.bookingEnded = true
            }
        }
        AssignmentStore.markBookingEnded(booking, work)
    }

    private nonisolated func id(_ text: String) throws -> UUID {
        guard let id = UUID(hyphenated: text) else {
            throw DomainError(.invalidArgument, "MALFORMED_EVENT", "booking event without a booking id")
        }
        return id
    }
}
