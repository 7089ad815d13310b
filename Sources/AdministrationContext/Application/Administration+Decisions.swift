import Foundation
import KaroKarKernel

/// Onboarding decisions: approve, reject, suspend, reinstate (DOMAIN.md section 11).
extension Administration {
    /// Records a decision (a new approval row), moves the read model's status and version, and
    /// publishes the decision; Identity applies it to the organization in the same transaction.
    nonisolated func decide(
        _ decision: Decision, organization id: UUID, notes: String?, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> DecisionOutcome {
        try PlatformOnly.check(invocation.caller)
        return try await bus.mutation(invocation) { work in
            guard let summary = try await ApprovalStore.lockSummary(id, on: work) else { throw DomainError.notFound("organization") }
            guard summary.kind != .platform else {
                throw DomainError.failedPrecondition("PLATFORM_ORGANIZATION", "the platform organization is not subject to approval")
            }
            if let expectedVersion, expectedVersion != summary.version {
                throw DomainError.staleVersion("organization", expected: expectedVersion, actual: summary.version)
            }
            guard let latest = try await ApprovalStore.latest(of: id, on: work) else {
                throw CorruptRow(description: "an organization without approvals")
            }
            guard let next = ApprovalStateMachine.next(after: latest.status, decision) else {
                throw ApprovalStateMachine.refusal(decision, after: latest.status)
            }
            let caller = invocation.caller
            let review = ApprovalStore.Review(reviewer: caller.principalID, reviewerOrganization: caller.organizationID, notes: notes)
            let approval = try await ApprovalStore.append(next, organization: id, review: review, on: work)
            let updated = try await ApprovalStore.updateSummary(id, status: decision.organizationStatus, on: work)
            try await work.publish(DecisionEvents.draft(decision, summary: updated, approval: approval))
            return DecisionOutcome(organization: updated, approval: approval)
        }
    }
}
