import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC

/// Identity's in-transaction reactions to other contexts' events: Administration decides, and
/// Identity applies the decision to the organization or the user in the same transaction (or
/// vetoes it, failing the decision).
enum IdentityReactions {
    static func subscribe(_ service: IdentityService, to bus: EventBus) {
        for eventType in OrganizationTransition.decisionEvents {
            bus.react(to: EventPattern(stringLiteral: eventType), as: "identity.organization_status") { event, work in
                try await applyDecision(event, service: service, on: work)
            }
        }
        bus.react(to: "moderation.user_disable_requested", as: "identity.user_disable") { event, work in
            guard case .userDisableRequested(let request) = event.payload, let id = UUID(hyphenated: request.userId) else {
                throw RPCError(.internal, "moderation.user_disable_requested without its payload")
            }
            guard event.actor?.type == .user || event.actor?.type == .serviceAccount, try await isPlatform(event, on: work) else {
                throw IdentityErrors.platformOnly
            }
            _ = try await service.disableUser(
                id, reason: request.reason, expectedVersion: request.expectedVersion?.value, moderationAction: request.moderationActionId,
                actor: event.actor?.id ?? "", on: work
            )
        }
    }

    private static func applyDecision(_ event: EventsV1.EventEnvelope, service: IdentityService, on work: UnitOfWork) async throws {
        guard let (to, from) = OrganizationTransition.target(of: event.eventType), let id = UUID(hyphenated: event.aggregateId) else {
            throw RPCError(.internal, "\(event.eventType) names no organization")
        }
        _ = try await OrganizationStore.applyDecision(id, to: to, from: from, version: event.aggregateVersion, on: work)
        try await AccessChangeSignal.send(on: work)
        service.uncommitted(.organization(id))
    }

    /// Moderation comes from the platform organization (Administration checks the caller too;
    /// this keeps Identity's own rule in Identity).
    private static func isPlatform(_ event: EventsV1.EventEnvelope, on work: UnitOfWork) async throws -> Bool {
        guard let id = UUID(hyphenated: event.organizationId) else { return false }
        return try await OrganizationStore.find(id, on: work)?.kind == .platform
    }
}
