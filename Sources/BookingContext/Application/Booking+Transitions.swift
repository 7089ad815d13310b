import Foundation
import KaroKarKernel

/// The one way a booking changes status: locked, authorized, version checked, moved by
/// ``BookingStateMachine`` (anything else: `INVALID_BOOKING_TRANSITION`, nothing changed),
/// saved with a version bump, and its one event published in the same unit of work, where the
/// reactions (Fleet's availability, Assignment's lifecycle) commit or veto with it.
extension Booking {
    typealias Authorization = (BookingRecord, Caller) throws -> Void
    typealias Change = (inout BookingRecord, UnitOfWork) async throws -> Void

    /// One idempotent use case around ``transition(_:_:expectedVersion:caller:notes:_:authorize:apply:)``.
    nonisolated func transition(
        _ id: UUID, _ command: BookingCommand, expectedVersion: Int64?, _ invocation: Invocation, notes: String? = nil,
        authorize: Authorization, apply: Change = { _, _ in }
    ) async throws -> BookingRecord {
        try await bus.mutation(invocation) { work in
            try await transition(id, command, expectedVersion: expectedVersion, caller: invocation.caller, notes: notes, work,
                                 authorize: authorize, apply: apply)
        }
    }

    /// The transition inside `work` (use cases, the self-booking's assignment, moderation, the sweep).
    nonisolated func transition(
        _ id: UUID, _ command: BookingCommand, expectedVersion: Int64?, caller: Caller, notes: String? = nil, _ work: UnitOfWork,
        authorize: Authorization, apply: Change = { _, _ in }
    ) async throws -> BookingRecord {
        guard let booking = try await BookingStore.lock(id, work) else { throw DomainError.notFound("booking") }
        try authorize(booking, caller)
        try ExpectedVersion.check(expectedVersion, booking.version, "booking")
        var next = booking
        next.status = try BookingStateMachine.checked(from: booking.status, command)
        next.updatedAt = environment.clock.now()
        try await apply(&next, work)
        let saved = try await BookingStore.save(next, work)
        let context = BookingEvents.Context(actor: caller.actorName, notes: notes, previous: booking.status)
        try await work.publish(BookingEvents.transition(command, saved, context))
        return saved
    }
}

extension Caller {
    /// Who acted, as bookings record it: the user's or service account's id, or "system".
    var actorName: String { isSystem ? "system" : principalID.lowercasedString }

    /// A user id for `decided_by`-like columns; nil for the system.
    var actingUser: UUID? { isSystem ? nil : principalID }
}
