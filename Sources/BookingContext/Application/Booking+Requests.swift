import Foundation
import KaroKarKernel

/// A booking from draft to the vendor's decision (DOMAIN.md section 6): create, submit, approve
/// (reserving the vehicle in the same transaction), reject, cancel.
extension Booking {
    /// A DRAFT booking of an ACTIVE vendor listing, for the caller's ACTIVE corporate; an
    /// employee's (booking.create_own only) is a self-booking. No availability effect.
    nonisolated func createBooking(_ draft: BookingDraft, _ invocation: Invocation) async throws -> BookingRecord {
        let caller = invocation.caller
        guard caller.organizationKind == .corporate, !caller.actsAcrossTenants else { throw BookingError.corporatesOnly() }
        guard caller.organizationStatus == .active else { throw BookingError.organizationNotActive() }
        let now = environment.clock.now()
        guard draft.period.start > now else { throw BookingError.periodStarted() }
        return try await bus.mutation(invocation) { work in
            let vendor = try await bookableVendor(of: draft.vehicleID, for: caller, work)
            let booking = BookingRecord(
                id: UUID.random(), vehicleID: draft.vehicleID, vendorID: vendor, corporateID: caller.organizationID,
                requestedBy: caller.principalID, period: draft.period, status: .draft, notes: draft.notes,
                selfBooking: !caller.has(.bookingCreate), version: 1, createdAt: now, updatedAt: now
            )
            let saved = try await BookingStore.insert(booking, work)
            try await work.publish(BookingEvents.created(saved))
            return saved
        }
    }

    /// The vehicle's vendor, when the vehicle is an ACTIVE vendor listing of an ACTIVE vendor;
    /// NOT_FOUND when the caller could not see it (existence does not leak).
    private nonisolated func bookableVendor(of vehicle: UUID, for caller: Caller, _ work: UnitOfWork) async throws -> UUID {
        guard let facts = try await vehicles.bookingFacts(vehicle, on: work) else { throw DomainError.notFound("vehicle") }
        if facts.isBookable { return facts.ownerOrganizationID }
        guard facts.ownerOrganizationID == caller.organizationID else { throw DomainError.notFound("vehicle") }
        throw BookingError.vehicleNotBookable()
    }

    /// DRAFT -> REQUESTED, by an ACTIVE corporate; a self-booking is checked against the
    /// employee's allocation, race-free. The request expires at its start, or after the
    /// configured wait, whichever comes first.
    nonisolated func submitBooking(_ id: UUID, expectedVersion: Int64?, _ invocation: Invocation) async throws -> BookingRecord {
        guard invocation.caller.organizationStatus == .active else { throw BookingError.organizationNotActive() }
        let ttl = options.requestTimeToLive
        return try await transition(id, .submit, expectedVersion: expectedVersion, invocation, authorize: { booking, caller in
            try BookingTenancy.checkCorporateVerb(booking, caller, full: .bookingSubmit, own: .bookingSubmitOwn)
        }, apply: { booking, work in
            let now = booking.updatedAt
            guard booking.period.start > now else { throw BookingError.periodStarted() }
            if booking.selfBooking { try await checkAllocation(of: booking, work) }
            booking.submittedAt = now
            booking.expiresAt = min(booking.period.start, now + ttl)
        })
    }

    /// REQUESTED -> APPROVED by the vehicle's vendor. Fleet reserves the period in this
    /// transaction or vetoes (`VEHICLE_NOT_AVAILABLE`: nothing changes). A self-booking is checked
    /// against the allocation again and assigned to its requester at once (`booking.assigned`,
    /// the assignment ACCEPTED).
    nonisolated func approveBooking(_ id: UUID, notes: String?, expectedVersion: Int64?, _ invocation: Invocation) async throws -> BookingRecord {
        try await bus.mutation(invocation) { work in
            let approved = try await transition(id, .approve, expectedVersion: expectedVersion, caller: invocation.caller, notes: notes, work,
                                                authorize: { booking, caller in try BookingTenancy.checkVendorVerb(booking, caller) },
                                                apply: { booking, work in
                if let expiry = booking.expiresAt, expiry <= booking.updatedAt { throw BookingError.requestExpired() }
                if booking.selfBooking { try await checkAllocation(of: booking, work) }
                booking.decidedBy = invocation.caller.actingUser
                booking.decidedAt = booking.updatedAt
            })
            guard approved.selfBooking else { return approved }
            return try await transition(id, .assign, expectedVersion: nil, caller: .system, work, authorize: { _, _ in }, apply: { booking, _ in
                booking.assignee = booking.requestedBy
                booking.assignmentID = UUID.random()
            })
        }
    }

    /// REQUESTED -> REJECTED by the vehicle's vendor, with a reason.
    nonisolated func rejectBooking(_ id: UUID, reason: String, expectedVersion: Int64?, _ invocation: Invocation) async throws -> BookingRecord {
        try await transition(id, .reject, expectedVersion: expectedVersion, invocation, authorize: { booking, caller in
            try BookingTenancy.checkVendorVerb(booking, caller)
        }, apply: { booking, _ in
            booking.decidedBy = invocation.caller.actingUser
            booking.decidedAt = booking.updatedAt
            booking.rejectionReason = reason
        })
    }

    /// REQUESTED | APPROVED | ASSIGNED -> CANCELLED by the corporate (an employee: their own);
    /// Fleet releases any record and Assignment closes any assignment in this transaction.
    nonisolated func cancelBooking(_ id: UUID, reason: String?, expectedVersion: Int64?, _ invocation: Invocation) async throws -> BookingRecord {
        try await transition(id, .cancel, expectedVersion: expectedVersion, invocation, authorize: { booking, caller in
            try BookingTenancy.checkCorporateVerb(booking, caller, full: .bookingCancel, own: .bookingCancelOwn)
        }, apply: { booking, _ in
            booking.cancelledBy = invocation.caller.actorName
            booking.cancelledAt = booking.updatedAt
            booking.cancellationReason = reason
        })
    }
}
