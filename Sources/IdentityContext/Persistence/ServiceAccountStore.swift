import Foundation
import KaroKarKernel
import KaroKarPostgres

/// `identity.service_accounts`. The secret's digest is read only by ``credential(_:on:)``.
enum ServiceAccountStore {
    /// A new ACTIVE account (its secret stored as a digest), as the database completed it.
    static func insert(
        _ draft: ServiceAccountDraft, organization: UUID, createdBy: UUID, secret: String, on work: UnitOfWork
    ) async throws -> ServiceAccountRecord {
        do {
            return try await work.query("""
                INSERT INTO identity.service_accounts (id, organization_id, name, description, permissions, status, secret_hash, created_by)
                VALUES (\(UUID.random()), \(organization), \(draft.name), \(draft.description), \(draft.permissions.sorted().map(\.rawValue))::text[],
                        'ACTIVE', \(PostgresBytes(OpaqueSecret.digest(secret)))::bytea, \(createdBy))
                RETURNING *
                """).single().serviceAccount
        } catch let error as PostgresError where error.code == .uniqueViolation && error.constraint == "service_accounts_name_unique" {
            throw IdentityErrors.duplicateServiceAccount
        }
    }

    static func find(_ id: UUID, on database: some Queryable) async throws -> ServiceAccountRecord? {
        try await database.query("SELECT * FROM identity.service_accounts WHERE id = \(id)").first { _ in true }?.serviceAccount
    }

    static func lock(_ id: UUID, on work: UnitOfWork) async throws -> ServiceAccountRecord? {
        try await work.query("SELECT * FROM identity.service_accounts WHERE id = \(id) FOR UPDATE").first { _ in true }?.serviceAccount
    }

    /// The account and whether `secret` is its current one (digests compared in constant time).
    static func credential(_ id: UUID, secret: String, on database: some Queryable) async throws -> (ServiceAccountRecord, Bool)? {
        guard let row = try await database.query("SELECT * FROM identity.service_accounts WHERE id = \(id)").first(where: { _ in true })
        else { return nil }
        let stored = try row.decode(PostgresBytes.self, "secret_hash").bytes
        let presented = OpaqueSecret.digest(secret)
        let same = stored.count == presented.count && zip(stored, presented).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
        return (try row.serviceAccount, same)
    }

    /// The organization's accounts in `statuses` (all when empty), by creation, after `after`.
    static func list(
        organization: UUID, statuses: [ServiceAccountStatus], after: TimeKey?, limit: Int, on database: some Queryable
    ) async throws -> [ServiceAccountRecord] {
        try await database.query("""
            SELECT * FROM identity.service_accounts
            WHERE organization_id = \(organization)
              AND (cardinality(\(statuses.map(\.rawValue))::text[]) = 0 OR status = ANY(\(statuses.map(\.rawValue))::text[]))
              AND (\(after?.time)::timestamptz IS NULL OR (created_at, id) > (\(after?.time)::timestamptz, \(after?.id)::uuid))
            ORDER BY created_at, id
            LIMIT \(limit)
            """).map { try $0.serviceAccount }
    }

    static func rotate(_ id: UUID, secret: String, on work: UnitOfWork) async throws -> ServiceAccountRecord {
        try await work.query("""
            UPDATE identity.service_accounts
            SET secret_hash = \(PostgresBytes(OpaqueSecret.digest(secret)))::bytea, secret_generation = secret_generation + 1,
                secret_rotated_at = clock_timestamp(), version = version + 1, updated_at = clock_timestamp()
            WHERE id = \(id) RETURNING *
            """).single().serviceAccount
    }

    static func revoke(_ id: UUID, on work: UnitOfWork) async throws -> ServiceAccountRecord {
        try await work.query("""
            UPDATE identity.service_accounts
            SET status = 'REVOKED', revoked_at = clock_timestamp(), version = version + 1, updated_at = clock_timestamp()
            WHERE id = \(id) RETURNING *
            """).single().serviceAccount
    }
}
