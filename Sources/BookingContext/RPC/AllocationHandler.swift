import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import KaroKarServices

/// `karokar.booking.v1.AllocationService`: employees' self-booking allocations (DOMAIN.md 6.1).
struct AllocationHandler: BookingV1.AllocationService.Handler {
    let booking: Booking

    func setAllocation(_ request: BookingV1.SetAllocationRequest, context: ServerCallContext) async throws -> BookingV1.SetAllocationResponse {
        var check = Validation()
        let employee = request.employeeId.map { check.uuid($0.value, "employeeId.value") }
        let active = check.range(Int64(request.maxActiveBookings), "maxActiveBookings", 0...1000)
        let days = check.range(Int64(request.maxDaysPerMonth), "maxDaysPerMonth", 0...31)
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let allocation = try await booking.setAllocation(
            employee: employee, maxActive: active, maxDays: days, expectedVersion: version, Invocation(context, fingerprint: request)
        )
        return BookingV1.SetAllocationResponse(allocation: allocation.message)
    }

    func removeEmployeeAllocation(
        _ request: BookingV1.RemoveEmployeeAllocationRequest, context: ServerCallContext
    ) async throws -> BookingV1.RemoveEmployeeAllocationResponse {
        var check = Validation()
        let employee = check.uuid(request.employeeId, "employeeId")
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let removal = try await booking.removeAllocation(employee: employee, expectedVersion: version, Invocation(context, fingerprint: request))
        return BookingV1.RemoveEmployeeAllocationResponse(removed: removal.removed, allocation: removal.applies?.message)
    }

    func listAllocations(_ request: BookingV1.ListAllocationsRequest, context: ServerCallContext) async throws -> BookingV1.ListAllocationsResponse {
        var check = Validation()
        let organization = check.optionalUUID(request.corporateOrganizationId, "corporateOrganizationId")
        try check.finish()
        let page = try Page<UUID>(request.page, list: "booking.allocations", tokens: booking.environment.pages, maximum: 200)
        let rows = try await booking.allocations(of: organization, page: page, Invocation(context, fingerprint: request))
        let (kept, next) = page.cut(rows) { $0.key }
        return BookingV1.ListAllocationsResponse(allocations: kept.map(\.message), page: next)
    }

    func getAllocationUsage(
        _ request: BookingV1.GetAllocationUsageRequest, context: ServerCallContext
    ) async throws -> BookingV1.GetAllocationUsageResponse {
        var check = Validation()
        let employee = request.employeeId.map { check.uuid($0.value, "employeeId.value") }
        let instant = request.monthOf.map { check.instant($0, "monthOf") }
        try check.finish()
        let usage = try await booking.allocationUsage(employee: employee, monthOf: instant, Invocation(context, fingerprint: request))
        return BookingV1.GetAllocationUsageResponse(usage: usage.message)
    }
}
