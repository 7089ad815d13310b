import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC

/// The review queue, approval histories and the dashboard.
extension AdministrationHandler {
    func listPendingApprovals(
        _ request: AdministrationV1.ListPendingApprovalsRequest, context: ServerCallContext
    ) async throws -> AdministrationV1.ListPendingApprovalsResponse {
        _ = try platformCaller(context)
        var check = Validation()
        var kinds: [TenantKind] = [.vendor, .corporate]
        if !request.organizationType.isProtoDefault {
            kinds = [TenantKind(protoNumber: check.known(request.organizationType, "organizationType").rawValue)].compactMap { $0 }
        }
        try check.finish()
        let page = try Keyset.parse(request.page)
        let rows = try await ApprovalStore.pending(kinds: kinds, page: page, on: service.pool)
        let (kept, next) = page.page(rows) { ($0.0.registeredAt, $0.0.organizationID) }
        return AdministrationV1.ListPendingApprovalsResponse(
            pendingApprovals: kept.map { AdministrationV1.PendingApproval(organization: $0.0.message, approval: $0.1.message) }, page: next
        )
    }

    func getApprovalHistory(
        _ request: AdministrationV1.GetApprovalHistoryRequest, context: ServerCallContext
    ) async throws -> AdministrationV1.GetApprovalHistoryResponse {
        _ = try platformCaller(context)
        var check = Validation()
        let id = check.uuid(request.organizationId, "organizationId")
        try check.finish()
        let size = try PageSize.resolve(request.page?.pageSize ?? 0, default: 50, maximum: 500)
        let after = try PageToken.decode(request.page?.pageToken ?? "", components: 1).map { parts throws(RPCError) -> Int64 in
            guard let sequence = Int64(parts[0]) else {
                throw RPCError.invalidArgument([.init(field: "page.pageToken", code: "MALFORMED", description: "not a page token from this service")])
            }
            return sequence
        }
        guard let summary = try await ApprovalStore.summary(id, on: service.pool) else { throw DomainError.notFound("organization") }
        let rows = try await ApprovalStore.history(of: id, afterSequence: after, limit: size + 1, on: service.pool)
        let kept = Array(rows.prefix(size))
        let next = rows.count > size ? PageToken.encode([String(kept[kept.count - 1].sequence)]) : ""
        return AdministrationV1.GetApprovalHistoryResponse(
            organization: summary.message, approvals: kept.map(\.message), page: CommonV1.PageResponse(nextPageToken: next)
        )
    }

    /// Organizations come from Administration's own read model. Vehicles, bookings and pending
    /// verifications are counted from their contexts' events once those contexts are served; until
    /// then those parts are empty (zero), which is what the platform knows.
    func getDashboardCounts(
        _ request: AdministrationV1.GetDashboardCountsRequest, context: ServerCallContext
    ) async throws -> AdministrationV1.GetDashboardCountsResponse {
        _ = try platformCaller(context)
        let counts = try await ApprovalStore.counts(on: service.pool)
        let now = PostgresTimestamp(microseconds: Int64(Date().timeIntervalSince1970 * 1_000_000))
        let dashboard = AdministrationV1.DashboardCounts(
            pendingApprovals: counts.filter { $0.1 == .pending && $0.0 != .platform }.reduce(0) { $0 + $1.2 },
            organizations: counts.map { kind, status, count in
                AdministrationV1.OrganizationCount(
                    organizationType: AdministrationV1.OrganizationType(rawValue: kind.protoNumber),
                    status: AdministrationV1.OrganizationStatus(rawValue: status.protoNumber), count: count
                )
            },
            computedAt: now.timestamp
        )
        return AdministrationV1.GetDashboardCountsResponse(counts: dashboard)
    }
}
