import Foundation
import KaroKarKernel

/// Reads: one booking, a corporate's bookings, a vendor's incoming requests.
extension Booking {
    /// One booking, to its corporate (an employee: their own), its vendor (not a draft) and
    /// platform administrators; NOT_FOUND to anyone else.
    nonisolated func booking(_ id: UUID, _ invocation: Invocation) async throws -> BookingRecord {
        try await bus.read(invocation) { work in
            guard let booking = try await BookingStore.get(id, work), BookingTenancy.mayRead(booking, invocation.caller) else {
                throw DomainError.notFound("booking")
            }
            return booking
        }
    }

    /// A page of a corporate's bookings, newest first (an employee with booking.read_own only:
    /// their own self-bookings).
    nonisolated func corporateBookings(
        of organization: UUID?, _ filter: BookingFilter, page: Page<TimeKey>, _ invocation: Invocation
    ) async throws -> [BookingRecord] {
        let caller = invocation.caller
        let corporate = try BookingTenancy.listedOrganization(organization, caller)
        let requester = caller.has(.bookingRead) || caller.actsAcrossTenants ? nil : caller.principalID
        return try await bus.read(invocation) { work in
            try await BookingStore.list(.corporate(corporate, requester: requester), filter, after: page.after, limit: page.fetchLimit, work)
        }
    }

    /// A page of a vendor's incoming requests (never drafts), newest first.
    nonisolated func vendorRequests(
        of organization: UUID?, _ filter: BookingFilter, page: Page<TimeKey>, _ invocation: Invocation
    ) async throws -> [BookingRecord] {
        let vendor = try BookingTenancy.listedOrganization(organization, invocation.caller)
        return try await bus.read(invocation) { work in
            try await BookingStore.list(.vendor(vendor), filter, after: page.after, limit: page.fetchLimit, work)
        }
    }
}
