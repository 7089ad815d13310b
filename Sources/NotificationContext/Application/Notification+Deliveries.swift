import Foundation
import KaroKarKernel

/// Delivery records. A user sees their own (for the organization they act for); platform
/// administrators see anyone's and every recipient's (the operator's view) and retry FAILED ones.
/// Another user's deliveries, asked for by anyone else, answer NOT_FOUND.
extension Notification {
    static func isOperator(_ caller: Caller) -> Bool {
        caller.isSystem || (caller.kind != .anonymous && caller.organizationKind == .platform)
    }

    nonisolated func deliveries(
        matching filter: DeliveryFilter, allRecipients: Bool, page: Page<TimeKey>, _ invocation: Invocation
    ) async throws -> [Delivery] {
        var filter = filter
        let caller = invocation.caller
        if Self.isOperator(caller) {
            if allRecipients {
                filter.recipientUserID = nil
            } else if filter.recipientUserID == nil {
                filter.recipientUserID = caller.principalID
            }
        } else {
            guard allRecipients == false, filter.recipientUserID == nil || filter.recipientUserID == caller.principalID else {
                throw DomainError.notFound("recipient")
            }
            filter.recipientUserID = caller.principalID
            filter.organizationID = caller.organizationID
        }
        return try await bus.read(invocation) { work in
            try await DeliveryStore.list(filter, after: page.after, limit: page.fetchLimit, work)
        }
    }

    /// FAILED -> PENDING, due now, with a fresh attempt budget.
    nonisolated func retry(_ id: UUID, _ invocation: Invocation) async throws -> Delivery {
        guard Self.isOperator(invocation.caller) else { throw DomainError.notFound("delivery") }
        return try await bus.mutation(invocation) { work in
            if let retried = try await DeliveryStore.retry(id, work) { return retried }
            guard let found = try await DeliveryStore.find(id, work) else { throw DomainError.notFound("delivery") }
            throw DomainError.failedPrecondition("DELIVERY_NOT_FAILED", "only a FAILED delivery is retried; this one is \(found.status.rawValue)")
        }
    }
}
