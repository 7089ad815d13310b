import Foundation
import KaroKarKernel
import KaroKarMessages
import Logging

/// External providers are asked after commit and outside any transaction (README, "External
/// providers"): the consumer `verification_providers` of `verification.submitted` (from the
/// durable outbox, at least once, from any server process) only queues the question
/// (`verification.provider_requests`, in the delivery's transaction). Provider workers of any
/// server process claim one question at a time (`FOR UPDATE SKIP LOCKED`, a lease), call the
/// provider holding no transaction and no pooled connection, then, in a short transaction, lock
/// the verification and, if it is still PENDING, move it to APPROVED or REJECTED with its event and
/// delete the question. A provider that gives no answer after its own retries leaves the question
/// due again after a backoff (doubling, capped); meanwhile the verification stays PENDING and a
/// platform administrator may decide it, after which the question is dropped unasked.
extension Verification {
    static let providerConsumer = "verification_providers"

    nonisolated func subscribeConsumers(to bus: EventBus) {
        bus.consume("verification.submitted", as: Self.providerConsumer) { event, work in
            try await self.queueProviderRequest(event, work)
        }
    }

    /// Queues the question of an EXTERNAL submission, in the delivery's transaction.
    nonisolated func queueProviderRequest(_ event: EventsV1.EventEnvelope, _ work: UnitOfWork) async throws {
        guard case .verificationSubmitted(let submitted)? = event.payload, submitted.method == .external,
              let id = UUID(hyphenated: submitted.verificationId), let provider = submitted.provider?.value, !provider.isEmpty
        else { return }
        try await ProviderRequestStore.enqueue(id, provider: provider, correlationID: event.correlationId, work)
    }

    /// Provider workers until cancelled: ``VerificationOptions/providerWorkers`` loops, each
    /// asking one provider at a time.
    nonisolated func askProvidersContinuously() async {
        guard !providers.isEmpty else { return }
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, options.providerWorkers) {
                group.addTask { await self.providerWorker() }
            }
        }
    }

    private nonisolated func providerWorker() async {
        let logger = environment.logger
        var failures = 0
        while !Task.isCancelled {
            do {
                let asked = try await askNextProvider()
                failures = 0
                if !asked { try? await Task.sleep(for: options.providerPollInterval) }
            } catch {
                failures += 1
                if !Task.isCancelled, failures == 1 { logger.warning("provider worker failed; retrying", metadata: ["error": "\(error)"]) }
                try? await Task.sleep(for: min(.milliseconds(100) * failures, .seconds(5)))
            }
        }
    }

    /// Claims one due question and settles it; false when none was due.
    nonisolated func askNextProvider() async throws -> Bool {
        guard let claimed = try await ProviderRequestStore.claim(leaseSeconds: options.providerLease.inSeconds, environment.pool) else { return false }
        let record = try await bus.transaction(.system()) { work in try await VerificationStore.get(claimed.verificationID, work) }
        guard let record, record.status == .pending, let provider = providers[claimed.provider] else {
            if let record, record.status == .pending {
                // A server configured without it (a rolling deploy, a removed provider): another
                // server or a later try takes it; a reviewer may decide meanwhile.
                try await retry(claimed, ProviderFailure.unreachable("provider \(claimed.provider) is not configured on this server"))
                return true
            }
            // Decided by someone else (or gone): nothing to ask.
            try await bus.transaction(.system()) { work in try await ProviderRequestStore.finish(claimed.verificationID, work) }
            return true
        }
        let answer: ProviderAnswer
        do {
            answer = try await provider.check(ProviderRequest(record))  // no transaction, no connection held
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            try await retry(claimed, error)
            return true
        }
        do {
            let origin = EventOrigin.system(organizationID: record.organizationID.lowercasedString, correlationID: claimed.correlationID)
            try await bus.transaction(origin) { work in
                // Someone may have decided while the provider was thinking: lock and look again.
                if let locked = try await VerificationStore.lock(claimed.verificationID, work), locked.status == .pending {
                    let decision = Decision(
                        reviewer: nil, decidedBy: "provider:\(provider.name)", notes: answer.reason,
                        expiresAt: answer.decision == .approved ? answer.expiresAt : nil, providerReference: answer.reference
                    )
                    _ = try await transition(locked, answer.decision == .approved ? .approve : .reject, expectedVersion: nil, decision, work)
                }
                try await ProviderRequestStore.finish(claimed.verificationID, work)
            }
        } catch let error as DomainError {
            // An answer the rules refuse (an expiry already passed): asked again later.
            try await retry(claimed, error)
        }
        return true
    }

    private nonisolated func retry(_ claimed: ProviderRequestStore.Claimed, _ error: any Error) async throws {
        let factor = Double(1 << min(max(claimed.attempts - 1, 0), 20))
        let delay = min(options.providerFirstRetryDelay.inSeconds * factor, options.providerMaximumRetryDelay.inSeconds)
        environment.logger.warning("verification provider gave no answer; asking again later", metadata: [
            "verification.id": "\(claimed.verificationID.lowercasedString)", "verification.provider": "\(claimed.provider)",
            "verification.attempts": "\(claimed.attempts)", "error": "\(error)",
        ])
        try await ProviderRequestStore.retry(claimed.verificationID, afterSeconds: delay, error: "\(error)", environment.pool)
    }
}

extension Duration {
    /// In seconds, with the fraction.
    var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
