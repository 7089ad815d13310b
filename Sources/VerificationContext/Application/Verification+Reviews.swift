import Foundation
import KaroKarKernel

/// The one way a verification changes status: locked, version checked, moved by
/// ``VerificationStateMachine`` (anything else: `INVALID_VERIFICATION_TRANSITION`, nothing
/// changed), saved with its history step, and its event published in the same unit of work, where
/// Fleet's reactions commit or veto with it.
extension Verification {
    /// What a decision sets beyond the status.
    struct Decision: Sendable {
        /// The reviewer's id; nil when a provider or the system decided.
        var reviewer: String?
        /// Who the history names: the reviewer, `provider:NAME` or `system`.
        var decidedBy: String
        var notes: String?
        /// Replaces the expiry when present (an approval).
        var expiresAt: Instant?
        var providerReference: String?
    }

    nonisolated func approve(_ id: UUID, expiresAt: Instant?, notes: String?, expectedVersion: Int64?, _ invocation: Invocation) async throws -> VerificationRecord {
        try VerificationTenancy.checkReviewer(invocation.caller)
        if let expiresAt, expiresAt <= environment.clock.now() { throw VerificationError.expiryPassed() }
        return try await review(id, .approve, expectedVersion: expectedVersion, invocation, Decision(
            reviewer: VerificationTenancy.actorName(invocation.caller), decidedBy: VerificationTenancy.actorName(invocation.caller),
            notes: notes, expiresAt: expiresAt
        ))
    }

    nonisolated func reject(_ id: UUID, reason: String, expectedVersion: Int64?, _ invocation: Invocation) async throws -> VerificationRecord {
        try VerificationTenancy.checkReviewer(invocation.caller)
        let actor = VerificationTenancy.actorName(invocation.caller)
        return try await review(id, .reject, expectedVersion: expectedVersion, invocation, Decision(reviewer: actor, decidedBy: actor, notes: reason))
    }

    nonisolated func revoke(_ id: UUID, reason: String, expectedVersion: Int64?, _ invocation: Invocation) async throws -> VerificationRecord {
        try VerificationTenancy.checkReviewer(invocation.caller)
        let actor = VerificationTenancy.actorName(invocation.caller)
        return try await review(id, .revoke, expectedVersion: expectedVersion, invocation, Decision(reviewer: actor, decidedBy: actor, notes: reason))
    }

    private nonisolated func review(
        _ id: UUID, _ command: VerificationCommand, expectedVersion: Int64?, _ invocation: Invocation, _ decision: Decision
    ) async throws -> VerificationRecord {
        try await bus.mutation(invocation) { work in
            guard let record = try await VerificationStore.lock(id, work), VerificationTenancy.visible(record, invocation.caller) else {
                throw VerificationError.notFound()
            }
            return try await transition(record, command, expectedVersion: expectedVersion, decision, work)
        }
    }

    /// The transition of a locked record inside `work` (reviews, providers' answers, the sweep).
    nonisolated func transition(
        _ record: VerificationRecord, _ command: VerificationCommand, expectedVersion: Int64?, _ decision: Decision, _ work: UnitOfWork
    ) async throws -> VerificationRecord {
        try ExpectedVersion.check(expectedVersion, record.version, "verification")
        var next = record
        next.status = try VerificationStateMachine.checked(from: record.status, command)
        let now = environment.clock.now()
        next.updatedAt = now
        if command == .approve || command == .reject {
            next.reviewedBy = decision.reviewer
            next.reviewedAt = now
            next.providerReference = decision.providerReference ?? record.providerReference
        }
        if let expiresAt = decision.expiresAt { next.expiresAt = expiresAt }
        if command == .approve, let expiry = next.expiresAt, expiry <= now { throw VerificationError.expiryPassed() }
        next.reviewNotes = decision.notes ?? (command == .expire ? record.reviewNotes : nil)
        let step = VerificationDecision(
            status: next.status, decidedBy: decision.decidedBy, decidedAt: now, notes: decision.notes ?? "", expiresAt: next.expiresAt
        )
        let saved = try await VerificationStore.save(next, step: step, work)
        try await work.publish(VerificationEvents.transition(command, saved, decidedBy: decision.reviewer, reason: decision.notes ?? "", at: now))
        return saved
    }
}
