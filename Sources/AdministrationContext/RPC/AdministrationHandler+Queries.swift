import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC

/// The review queue, approval histories and the dashboard.
extension AdministrationHandler {
    func listPendingApprovals(
        _ request: AdministrationV1.ListPendingApprovalsRequest, context: ServerCallContext
    ) async throws -> AdministrationV1.ListPendingApprovalsResponse {
        var check = Validation()
        var kinds: [TenantKind] = [.vendor, .corporate]
        if !request.organizationType.isProtoDefault {
            kinds = [TenantKind(protoNumber: check.known(request.organizationType, "organizationType").rawValue)].compactMap { $0 }
        }
        try check.finish()
        let page = try Page<TimeKey>(request.page, list: "administration.pending_approvals", tokens: pages)
        let rows = try await administration.pendingApprovals(kinds: kinds, page: page, Invocation(context, fingerprint: request))
        let (kept, next) = page.cut(rows) { TimeKey($0.organization.registeredAt, $0.organization.organizationID) }
        return AdministrationV1.ListPendingApprovalsResponse(
            pendingApprovals: kept.map { AdministrationV1.PendingApproval(organization: $0.organization.message, approval: $0.approval.message) },
            page: next
        )
    }

    func getApprovalHistory(
        _ request: AdministrationV1.GetApprovalHistoryRequest, context: ServerCallContext
    ) async throws -> AdministrationV1.GetApprovalHistoryResponse {
        var check = Validation()
        let id = check.uuid(request.organizationId, "organizationId")
        try check.finish()
        let page = try Page<Int64>(request.page, list: "administration.approval_history", tokens: pages)
        let (summary, rows) = try await administration.approvalHistory(of: id, page: page, Invocation(context, fingerprint: request))
        let (kept, next) = page.cut(rows) { $0.sequence }
        return AdministrationV1.GetApprovalHistoryResponse(organization: summary.message, approvals: kept.map(\.message), page: next)
    }

    func getDashboardCounts(
        _ request: AdministrationV1.GetDashboardCountsRequest, context: ServerCallContext
    ) async throws -> AdministrationV1.GetDashboardCountsResponse {
        let counts = try await administration.dashboardCounts(Invocation(context, fingerprint: request))
        return AdministrationV1.GetDashboardCountsResponse(counts: counts.message)
    }
}
