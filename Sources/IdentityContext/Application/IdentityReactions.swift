import Foundation
import KaroKarKernel
import KaroKarMessages

/// Identity's in-transaction reactions to other contexts' events: Administration decides, and
/// Identity applies the decision to the organization or the user in the same transaction (or
/// vetoes it, failing the decision).
enum IdentityReactions {
    /// An event without what its type promises (another context's bug): the publisher's
    /// transaction fails, and the caller gets INTERNAL.
    struct MalformedEvent: Error, CustomStringConvertible {
        let description: String
    }

    static func subscribe(_ identity: Identity, to bus: EventBus) {
        for eventType in OrganizationTransition.decisionEvents {
            bus.react(to: EventPattern(stringLiteral: eventType), as: "identity.organization_status") { event, work in
                try await applyDecision(event, identity, on: work)
            }
        }
        bus.react(to: "moderation.user_disable_requested", as: "identity.user_disable") { event, work in
            guard case .userDisableRequested(let request) = event.payload, let id = UUID(hyphenated: request.userId) else {
                throw MalformedEvent(description: "moderation.user_disable_requested without its payload")
            }
            guard event.actor?.type == .user || event.actor?.type == .serviceAccount, try await isPlatform(event, on: work) else {
                throw IdentityErrors.platformOnly
            }
            _ = try await identity.disable(
                id, reason: request.reason, expectedVersion: request.expectedVersion?.value, moderationAction: request.moderationActionId,
                actor: event.actor?.id ?? "", on: work
            )
        }
    }

    /// Moves the organization's status. The decision carries the organization's version after
    /// the change (Administration keeps a copy, from these same events); a different one means
    /// the two have drifted, and the decision is refused.
    private static func applyDecision(_ event: EventsV1.EventEnvelope, _ identity: Identity, on work: UnitOfWork) async throws {
        guard let (to, from) = OrganizationTransition.target(of: event.eventType), let id = UUID(hyphenated: event.aggregateId) else {
            throw MalformedEvent(description: "\(event.eventType) names no organization")
        }
        guard let current = try await OrganizationStore.lock(id, on: work) else { throw DomainError.notFound("organization") }
        guard from.contains(current.status) else {
            throw DomainError.failedPrecondition("INVALID_ORGANIZATION_TRANSITION", "the organization is \(current.status.rawValue)")
        }
        let version = event.aggregateVersion
        guard version == 0 || current.version + 1 == version else {
            throw DomainError.staleVersion("organization", expected: version - 1, actual: current.version)
        }
        _ = try await OrganizationStore.setStatus(id, to, on: work)
        try await identity.accessChanged(.organization(id), on: work)
    }

    /// Moderation comes from the platform organization (Administration checks the caller too;
    /// this keeps Identity's own rule in Identity).
    private static func isPlatform(_ event: EventsV1.EventEnvelope, on work: UnitOfWork) async throws -> Bool {
        guard let id = UUID(hyphenated: event.organizationId) else { return false }
        return try await OrganizationStore.find(id, on: work)?.kind == .platform
    }
}
