import Foundation
import KaroKarKernel
import KaroKarMessages

/// External providers are asked after commit (README, "External providers"): the consumer
/// `verification_providers` of `verification.submitted` (from the durable outbox, at least once,
/// from any server process) asks the named provider and, in the same transaction as the
/// delivery's settlement, moves the verification to APPROVED or REJECTED with its event. A
/// provider that gives no answer after its own retries fails the delivery: the relay retries it
/// with backoff and, past its limit, parks it in dead letters, where an operator can replay it.
/// Meanwhile the verification stays PENDING and a platform administrator may still decide it; an
/// answer that arrives after someone decided is ignored (a redelivery too).
extension Verification {
    static let providerConsumer = "verification_providers"

    nonisolated func subscribeConsumers(to bus: EventBus) {
        bus.consume("verification.submitted", as: Self.providerConsumer) { event, work in
            try await self.askProvider(event, work)
        }
    }

    nonisolated func askProvider(_ event: EventsV1.EventEnvelope, _ work: UnitOfWork) async throws {
        guard case .verificationSubmitted(let submitted)? = event.payload, submitted.method == .external,
              let id = UUID(hyphenated: submitted.verificationId)
        else { return }
        guard let record = try await VerificationStore.get(id, work), record.status == .pending, let name = record.provider else { return }
        guard let provider = providers[name] else {
            // A server configured without it (a rolling deploy, a removed provider): fail the
            // delivery, so that another server, a later retry or an operator's replay of the dead
            // letter takes it; a reviewer may decide meanwhile.
            throw ProviderFailure.unreachable("provider \(name) is not configured on this server")
        }
        let answer = try await provider.check(ProviderRequest(record))
        // Someone may have decided while the provider was thinking: lock and look again.
        guard let locked = try await VerificationStore.lock(id, work), locked.status == .pending else { return }
        let decision = Decision(
            reviewer: nil, decidedBy: "provider:\(name)", notes: answer.reason, expiresAt: answer.decision == .approved ? answer.expiresAt : nil,
            providerReference: answer.reference
        )
        let acting = work.acting(as: .system(organizationID: locked.organizationID.lowercasedString, correlationID: event.correlationId))
        _ = try await transition(locked, answer.decision == .approved ? .approve : .reject, expectedVersion: nil, decision, acting)
    }
}
