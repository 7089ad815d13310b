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

    /// Organizations come from Administration's own read model. Vehicles, bookings and pending
    /// verifications are counted from their contexts' events once those contexts are served;
    /// until then those parts are empty (zero), which is what the platform knows.
    nonisolated func dashboardCounts(_ invocation: Invocation) async throws -> DashboardCounts {
        try PlatformOnly.check(invocation.caller)
        let counts = try await bus.read(invocation) { work in try await ApprovalStore.counts(on: work) }
        return DashboardCounts(organizations: counts, computedAt: environment.clock.now())
    }
}
