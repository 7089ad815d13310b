import Foundation
import KaroKarKernel

/// The review queue, approval histories and the dashboard.
extension Administration {
    /// PENDING organizations of `kinds` with their open approval, oldest first.
    nonisolated func pendingApprovals(kinds: [TenantKind], page: Page<TimeKey>, _ invocation: Invocation) async throws -> [PendingApproval] {
        try PlatformOnly.check(invocation.caller)
        return try await bus.read(invocation) { work in
            try await ApprovalStore.pending(kinds: kinds, after: page.after, limit: page.fetchLimit, on: work)
        }
    }

    /// An organization and a page of its approval history, in order.
    nonisolated func approvalHistory(
        of id: UUID, page: Page<Int64>, _ invocation: Invocation
    ) async throws -> (OrganizationSummaryRecord, [ApprovalRecord]) {
        try PlatformOnly.check(invocation.caller)
        return try await bus.read(invocation) { work in
            guard let summary = try await ApprovalStore.summary(id, on: work) else { throw DomainError.notFound("organization") }
            return (summary, try await ApprovalStore.history(of: id, afterSequence: page.after, limit: page.fetchLimit, on: work))
        }
    }

    /// Organizations, vehicles and bookings come from Administration's own read models
    /// (vehicles from Fleet's lifecycle events and bookings from Booking's, both after commit:
    /// they may trail by the delivery lag). Pending verifications are counted from Verification's
    /// events once that context publishes to Administration; until then that part is zero.
    nonisolated func dashboardCounts(_ invocation: Invocation) async throws -> DashboardCounts {
        try PlatformOnly.check(invocation.caller)
        let (organizations, vehicles, bookings) = try await bus.read(invocation) { work in
            (try await ApprovalStore.counts(on: work), try await VehicleCountStore.counts(on: work), try await BookingCountStore.counts(on: work))
        }
        return DashboardCounts(organizations: organizations, bookings: bookings, vehicles: vehicles, computedAt: environment.clock.now())
    }
}
