import Foundation
import KaroKarKernel
import KaroKarMessages

/// What Booking does inside other contexts' transactions: Administration's moderation asks it to
/// terminate a booking with ADMIN_ACTION; if Booking cannot (unknown booking, not ACTIVE, stale
/// version), the moderation verb fails and nothing is logged.
extension Booking {
    nonisolated func subscribeReactions(to bus: EventBus) {
        bus.react(to: "moderation.booking_termination_requested", as: "booking.moderation") { event, work in
            try await self.moderate(event, work)
        }
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
