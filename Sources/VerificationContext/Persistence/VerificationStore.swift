import Foundation
import KaroKarKernel
import KaroKarPostgres

/// SQL of `verification.verifications` and its history. Every write of a record writes its
/// history row in the same statement, so a step without its history cannot exist.
enum VerificationStore {
    static func insert(_ r: VerificationRecord, _ work: UnitOfWork) async throws -> VerificationRecord {
        do {
            return try await work.query("""
                WITH inserted AS (
                    INSERT INTO verification.verifications (id, subject_type, subject_id, organization_id, type, method, provider, status,
                        document_refs, submitted_by, submitted_at, expires_at, notes, version, updated_at)
                    VALUES (\(r.id), \(r.subjectType.rawValue), \(r.subjectID), \(r.organizationID), \(r.type.rawValue), \(r.method.rawValue),
                        \(r.provider), \(r.status.rawValue), \(r.documentRefs)::text[], \(r.submittedBy), \(r.submittedAt)::timestamptz,
                        \(r.expiresAt)::timestamptz, \(r.notes), 1, \(r.updatedAt)::timestamptz)
                    RETURNING *
                ), step AS (
                    INSERT INTO verification.decisions (verification_id, version, status, decided_by, decided_at, notes, expires_at)
                    SELECT id, version, status, submitted_by, submitted_at, notes, expires_at FROM inserted
                )
                SELECT * FROM inserted
                """).single().verification()
        } catch let error as PostgresError where error.code == .uniqueViolation && error.constraint == "verifications_one_pending" {
            throw VerificationError.alreadyPending()
        }
    }

    static func get(_ id: UUID, _ database: some Queryable) async throws -> VerificationRecord? {
        try await database.query("SELECT * FROM verification.verifications WHERE id = \(id)").first { _ in true }?.verification()
    }

    /// The record, locked for the rest of the unit of work: decisions about one verification take turns.
    static func lock(_ id: UUID, _ work: UnitOfWork) async throws -> VerificationRecord? {
        try await work.query("SELECT * FROM verification.verifications WHERE id = \(id) FOR UPDATE").first { _ in true }?.verification()
    }

    /// Writes a locked record's decision, bumps its version and appends the step to its history.
    static func save(_ r: VerificationRecord, step: VerificationDecision, _ work: UnitOfWork) async throws -> VerificationRecord {
        try await work.query("""
            WITH updated AS (
                UPDATE verification.verifications SET status = \(r.status.rawValue), provider_reference = \(r.providerReference),
                    reviewed_by = \(r.reviewedBy), reviewed_at = \(r.reviewedAt)::timestamptz, expires_at = \(r.expiresAt)::timestamptz,
                    review_notes = \(r.reviewNotes), version = version + 1, updated_at = \(r.updatedAt)::timestamptz
                WHERE id = \(r.id)
                RETURNING *
            ), step AS (
                INSERT INTO verification.decisions (verification_id, version, status, decided_by, decided_at, notes, expires_at)
                SELECT id, version, \(step.status.rawValue), \(step.decidedBy), \(step.decidedAt)::timestamptz, \(step.notes),
                    \(step.expiresAt)::timestamptz
                FROM updated
            )
            SELECT * FROM updated
            """).single().verification()
    }

    static func history(_ id: UUID, _ database: some Queryable) async throws -> [VerificationDecision] {
        try await database.query("""
            SELECT status, decided_by, decided_at, notes, expires_at FROM verification.decisions
            WHERE verification_id = \(id) ORDER BY version
            """).map { row in
            VerificationDecision(
                status: try row.enumeration(VerificationStatus.self, "status"), decidedBy: try row.decode(String.self, "decided_by"),
                decidedAt: try row.decode(Instant.self, "decided_at"), notes: try row.decode(String.self, "notes"),
                expiresAt: try row.decode(Instant?.self, "expires_at")
            )
        }
    }

    /// A page of verifications, newest first, after `after`; `organization` nil: every tenant's.
    static func list(
        _ filter: VerificationFilter, organization: UUID?, after: TimeKey?, limit: Int, _ database: some Queryable
    ) async throws -> [VerificationRecord] {
        let statuses = filter.statuses.map(\.rawValue)
        return try await database.query("""
            SELECT * FROM verification.verifications
            WHERE (\(organization)::uuid IS NULL OR organization_id = \(organization)::uuid)
              AND (\(filter.subjectType?.rawValue)::text IS NULL OR subject_type = \(filter.subjectType?.rawValue)::text)
              AND (\(filter.subjectID)::uuid IS NULL OR subject_id = \(filter.subjectID)::uuid)
              AND (\(filter.type?.rawValue)::text IS NULL OR type = \(filter.type?.rawValue)::text)
              AND (cardinality(\(statuses)::text[]) = 0 OR status = ANY(\(statuses)::text[]))
              AND (\(after?.time)::timestamptz IS NULL OR (submitted_at, id) < (\(after?.time)::timestamptz, \(after?.id)::uuid))
            ORDER BY submitted_at DESC, id DESC LIMIT \(limit)
            """).map { try $0.verification() }
    }

    /// APPROVED verifications whose expiry is at or before `instant`, locked, skipping those
    /// another process holds: each expires by exactly one sweep, whatever the number of servers.
    static func claimExpired(at instant: Instant, excluding skipped: Set<UUID>, limit: Int, _ work: UnitOfWork) async throws -> [VerificationRecord] {
        try await work.query("""
            SELECT * FROM verification.verifications
            WHERE status = 'APPROVED' AND expires_at <= \(instant)::timestamptz AND id <> ALL(\(Array(skipped))::uuid[])
            ORDER BY expires_at, id LIMIT \(limit)
            FOR UPDATE SKIP LOCKED
            """).map { try $0.verification() }
    }

    /// What a sweep at `instant` would expire (a dry run: nothing locked).
    static func due(at instant: Instant, limit: Int, _ database: some Queryable) async throws -> [VerificationRecord] {
        try await database.query("""
            SELECT * FROM verification.verifications
            WHERE status = 'APPROVED' AND expires_at <= \(instant)::timestamptz
            ORDER BY expires_at, id LIMIT \(limit)
            """).map { try $0.verification() }
    }
}

extension PostgresRow {
    func verification() throws -> VerificationRecord {
        VerificationRecord(
            id: try decode(UUID.self, "id"), subjectType: try enumeration(SubjectType.self, "subject_type"),
            subjectID: try decode(UUID.self, "subject_id"), organizationID: try decode(UUID.self, "organization_id"),
            type: try enumeration(VerificationType.self, "type"), method: try enumeration(VerificationMethod.self, "method"),
            provider: try decode(String?.self, "provider"), providerReference: try decode(String?.self, "provider_reference"),
            status: try enumeration(VerificationStatus.self, "status"), documentRefs: try decode([String].self, "document_refs"),
            submittedBy: try decode(String.self, "submitted_by"), submittedAt: try decode(Instant.self, "submitted_at"),
            reviewedBy: try decode(String?.self, "reviewed_by"), reviewedAt: try decode(Instant?.self, "reviewed_at"),
            expiresAt: try decode(Instant?.self, "expires_at"), notes: try decode(String.self, "notes"),
            reviewNotes: try decode(String?.self, "review_notes"), version: try decode(Int64.self, "version"),
            updatedAt: try decode(Instant.self, "updated_at")
        )
    }
}
