import Foundation
import KaroKarKernel

/// Employees' self-booking allocations (DOMAIN.md 6.1): set by the corporate's managers, read by
/// them and (their own) by employees, checked race-free when a self-booking is submitted and
/// approved.
extension Booking {
    /// Sets the caller's corporate's default (`employee` nil) or an ACTIVE member's override.
    nonisolated func setAllocation(
        employee: UUID?, maxActive: Int64, maxDays: Int64, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> Allocation {
        let caller = invocation.caller
        guard caller.organizationKind == .corporate, !caller.actsAcrossTenants else { throw BookingError.corporatesOnly() }
        return try await bus.mutation(invocation) { work in
            let corporate = caller.organizationID
            if let employee {
                guard let member = try await members.member(user: employee, organization: corporate, on: work), member.mayReceiveVehicles else {
                    throw BookingError.employeeNotMember()
                }
            }
            let current = try await AllocationStore.lock(employee, of: corporate, work)
            if let expectedVersion {
                try ExpectedVersion.check(expectedVersion, current?.version ?? 0, "allocation")
            }
            let saved = try await AllocationStore.upsert(
                employee, of: corporate, maxActive: maxActive, maxDays: maxDays, by: caller.principalID, at: environment.clock.now(), work
            )
            try await work.publish(AllocationEvents.set(saved, by: caller))
            return saved
        }
    }

    /// Removes an employee's override from the caller's corporate; the default applies again.
    /// An existing override goes whatever the membership became (a leaver's can be cleaned up).
    /// Idempotent: a live member without one changes nothing (`removed` false, no event); a user
    /// with neither an override nor a live membership of the corporate: NOT_FOUND.
    nonisolated func removeAllocation(employee: UUID, expectedVersion: Int64?, _ invocation: Invocation) async throws -> AllocationRemoval {
        let caller = invocation.caller
        guard caller.organizationKind == .corporate, !caller.actsAcrossTenants else { throw BookingError.corporatesOnly() }
        return try await bus.mutation(invocation) { work in
            let corporate = caller.organizationID
            let current = try await AllocationStore.lock(employee, of: corporate, work)
            if current == nil, try await members.member(user: employee, organization: corporate, on: work) == nil {
                throw DomainError.notFound("employee")
            }
            if let expectedVersion {
                try ExpectedVersion.check(expectedVersion, current?.version ?? 0, "allocation")
            }
            if let current {
                try await AllocationStore.remove(employee, of: corporate, work)
                try await work.publish(AllocationEvents.removed(current, employee: employee, by: caller))
            }
            let applies = try await AllocationStore.effective(employee, of: corporate, work)
            return AllocationRemoval(removed: current != nil, applies: applies)
        }
    }

    /// The default and the overrides of a corporate (the caller's; any, for platform administrators).
    nonisolated func allocations(of organization: UUID?, page: Page<UUID>, _ invocation: Invocation) async throws -> [Allocation] {
        let corporate = try BookingTenancy.listedOrganization(organization, invocation.caller)
        return try await bus.read(invocation) { work in
            try await AllocationStore.list(of: corporate, after: page.after, limit: page.fetchLimit, work)
        }
    }

    /// An employee's allocation and what remains of it in the month of `instant` (now when nil).
    /// With allocation.read_own only, the caller's own.
    nonisolated func allocationUsage(employee: UUID?, monthOf instant: Instant?, _ invocation: Invocation) async throws -> AllocationUsage {
        let caller = invocation.caller
        let employee = employee ?? caller.principalID
        guard caller.has(.allocationRead) || employee == caller.principalID else { throw DomainError.notFound("employee") }
        let month = AllocationRules.month(of: instant ?? environment.clock.now())
        let corporate = caller.organizationID
        return try await bus.read(invocation) { work in
            let allocation = try await AllocationStore.effective(employee, of: corporate, work)
            let held = try await AllocationStore.heldPeriods(employee, of: corporate, excluding: nil, work)
            return AllocationUsage(
                employee: employee, allocation: allocation, activeBookings: Int64(held.count), month: month,
                daysBooked: held.reduce(0) { $0 + AllocationRules.days(of: $1, in: month) }
            )
        }
    }

    /// Locks the requester's allocation row, then counts: two submissions or approvals of one
    /// employee take turns (in every server process), and the second sees the first.
    nonisolated func checkAllocation(of booking: BookingRecord, _ work: UnitOfWork) async throws {
        try await AllocationStore.lockEmployee(booking.requestedBy, of: booking.corporateID, work)
        let allocation = try await AllocationStore.effective(booking.requestedBy, of: booking.corporateID, work)
        let others = try await AllocationStore.heldPeriods(booking.requestedBy, of: booking.corporateID, excluding: booking.id, work)
        try AllocationRules.check(allocation, others: others, new: booking.period)
    }
}
