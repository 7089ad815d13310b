import Foundation
import KaroKarKernel
import KaroKarPostgres

/// The queue of questions to external providers (`verification.provider_requests`): queued with
/// the submission's delivery, claimed one at a time by any server process, deleted with the
/// answer's transaction.
enum ProviderRequestStore {
    /// A claimed request: the worker holds its lease until ``leaseSeconds`` pass.
    struct Claimed: Sendable, Hashable {
        let verificationID: UUID
        let provider: String
        let correlationID: String
        /// Including this one.
        let attempts: Int
    }

    /// Queues the question (nothing if it is queued already: a redelivery).
    static func enqueue(_ verification: UUID, provider: String, correlationID: String, _ work: UnitOfWork) async throws {
        try await work.query("""
            INSERT INTO verification.provider_requests (verification_id, provider, correlation_id)
            VALUES (\(verification), \(provider), \(correlationID))
            ON CONFLICT (verification_id) DO NOTHING
            """)
    }

    /// Leases the oldest due request for `leaseSeconds`, counting an attempt, in one statement of
    /// its own (no transaction stays open): nil when none is due.
    static func claim(leaseSeconds: Double, _ pool: PostgresPool) async throws -> Claimed? {
        let rows = try await pool.query("""
            UPDATE verification.provider_requests AS r
            SET leased_until = clock_timestamp() + \(leaseSeconds)::float8 * interval '1 second', attempts = r.attempts + 1
            WHERE r.verification_id = (
                SELECT verification_id FROM verification.provider_requests
                WHERE available_at <= clock_timestamp() AND (leased_until IS NULL OR leased_until < clock_timestamp())
                ORDER BY available_at
                FOR UPDATE SKIP LOCKED
                LIMIT 1)
            RETURNING r.verification_id, r.provider, r.correlation_id, r.attempts
            """)
        guard !rows.isEmpty else { return nil }
        let row = rows[0]
        return Claimed(
            verificationID: try row.decode(UUID.self, "verification_id"), provider: try row.decode(String.self, "provider"),
            correlationID: try row.decode(String.self, "correlation_id"), attempts: try row.decode(Int.self, "attempts")
        )
    }

    /// The request is answered (or moot): gone, in the answer's transaction.
    static func finish(_ verification: UUID, _ work: UnitOfWork) async throws {
        try await work.query("DELETE FROM verification.provider_requests WHERE verification_id = \(verification)")
    }

    /// No answer this time: due again after `delaySeconds`, its lease given back.
    static func retry(_ verification: UUID, afterSeconds delaySeconds: Double, error: String, _ pool: PostgresPool) async throws {
        try await pool.query("""
            UPDATE verification.provider_requests
            SET leased_until = NULL, available_at = clock_timestamp() + \(delaySeconds)::float8 * interval '1 second',
                last_error = \(String(error.prefix(2000)))
            WHERE verification_id = \(verification)
            """)
    }
}
