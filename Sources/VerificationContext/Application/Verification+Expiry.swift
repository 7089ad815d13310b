import Foundation
import KaroKarKernel

/// Expiry: an APPROVED verification whose `expiresAt` has come becomes EXPIRED, with its
/// `verification.expired` event (Fleet suspends the vehicle in the same transaction). Each batch
/// claims due verifications with `FOR UPDATE SKIP LOCKED`, so several server processes sweeping at
/// once never expire one twice: a record another sweep holds is skipped, and once that sweep
/// commits it is no longer APPROVED. A batch a reaction refuses is retried one verification per
/// transaction, so one bad record does not hold back the others (it is logged and tried again
/// on the next run).
extension Verification {
    /// `RunVerificationExpirySweep`: expires what is due at `asOf` (nil: now), or with `dryRun`
    /// only reports it. Only now or the past may be swept for real: a future instant would expire
    /// approvals early.
    nonisolated func runExpirySweep(asOf: Instant?, dryRun: Bool, _ invocation: Invocation) async throws -> [VerificationRecord] {
        try VerificationTenancy.checkReviewer(invocation.caller)
        let now = environment.clock.now()
        let instant = asOf ?? now
        if dryRun {
            return try await bus.read(invocation) { work in try await VerificationStore.due(at: instant, limit: 10_000, work) }
        }
        guard instant <= now else {
            throw DomainError(.invalidArgument, "AS_OF_IN_FUTURE", "a sweep that changes something judges expiry at now or earlier")
        }
        return try await expireDue(at: instant, origin: invocation.origin)
    }

    /// Sweeps batch by batch until nothing is due.
    nonisolated func expireDue(at instant: Instant, origin: EventOrigin) async throws -> [VerificationRecord] {
        var expired: [VerificationRecord] = []
        var skipped: Set<UUID> = []
        while true {
            let batch: [VerificationRecord]
            do {
                batch = try await bus.transaction(origin) { work in
                    let due = try await VerificationStore.claimExpired(at: instant, excluding: skipped, limit: options.expiryBatchSize, work)
                    var done: [VerificationRecord] = []
                    for record in due { done.append(try await expire(record, work)) }
                    return done
                }
            } catch is DomainError {
                // A reaction refused one of them: one by one, so the others still expire.
                let (done, failed) = try await expireOneByOne(at: instant, excluding: skipped, origin: origin)
                expired += done
                skipped.formUnion(failed)
                if done.isEmpty && failed.isEmpty { return expired }
                continue
            }
            expired += batch
            if batch.count < options.expiryBatchSize { return expired }
        }
    }

    private nonisolated func expireOneByOne(
        at instant: Instant, excluding skipped: Set<UUID>, origin: EventOrigin
    ) async throws -> ([VerificationRecord], Set<UUID>) {
        let due = try await bus.transaction(origin) { work in
            try await VerificationStore.claimExpired(at: instant, excluding: skipped, limit: options.expiryBatchSize, work).map(\.id)
        }
        var done: [VerificationRecord] = []
        var failed: Set<UUID> = []
        for id in due {
            do {
                let record = try await bus.transaction(origin) { work -> VerificationRecord? in
                    guard let record = try await VerificationStore.lock(id, work), record.status == .approved else { return nil }
                    return try await expire(record, work)
                }
                if let record { done.append(record) }
            } catch let refusal as DomainError {
                environment.logger.warning("a verification could not expire", metadata: [
                    "verification.id": "\(id.lowercasedString)", "error": "\(refusal)",
                ])
                failed.insert(id)
            }
        }
        return (done, failed)
    }

    private nonisolated func expire(_ record: VerificationRecord, _ work: UnitOfWork) async throws -> VerificationRecord {
        let acting = work.acting(as: .system(organizationID: record.organizationID.lowercasedString, correlationID: work.origin.correlationID))
        return try await transition(record, .expire, expectedVersion: nil, Decision(reviewer: nil, decidedBy: "system"), acting)
    }

    /// The background sweep, every `interval`, until cancelled.
    nonisolated func expirePeriodically(every interval: Duration) async {
        let logger = environment.logger
        while !Task.isCancelled {
            do {
                let expired = try await expireDue(at: environment.clock.now(), origin: .system())
                if !expired.isEmpty { logger.notice("verifications expired", metadata: ["verification.expired": "\(expired.count)"]) }
            } catch {
                logger.warning("verification expiry sweep failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}
