import Foundation
import KaroKarKernel
import KaroKarPostgres

/// `identity.users`. The password hash is read only by ``credential(email:on:)``.
enum UserStore {
    static func insert(_ user: UserRecord, passwordHash: PasswordHash, on work: UnitOfWork) async throws -> UserRecord {
        do {
            return try await work.query("""
                INSERT INTO identity.users (id, first_name, last_name, email, phone, status, password_hash)
                VALUES (\(user.id), \(user.firstName), \(user.lastName), \(user.email), \(user.phone), \(user.status.rawValue), \(passwordHash.encoded))
                RETURNING *
                """).single().user
        } catch let error as PostgresError where error.code == .uniqueViolation && error.constraint == "users_email_unique" {
            throw IdentityErrors.duplicateEmail
        }
    }

    static func find(_ id: UUID, on database: some Queryable) async throws -> UserRecord? {
        try await database.query("SELECT * FROM identity.users WHERE id = \(id)").first { _ in true }?.user
    }

    static func find(email: String, on database: some Queryable) async throws -> UserRecord? {
        try await database.query("SELECT * FROM identity.users WHERE lower(email) = lower(\(email))").first { _ in true }?.user
    }

    /// The user and their password hash, for a login.
    static func credential(email: String, on database: some Queryable) async throws -> (UserRecord, PasswordHash)? {
        guard let row = try await database.query("SELECT * FROM identity.users WHERE lower(email) = lower(\(email))").first(where: { _ in true })
        else { return nil }
        guard let hash = PasswordHash(encoded: try row.decode(String.self, "password_hash")) else {
            throw CorruptRow(description: "a password hash this code did not write")
        }
        return (try row.user, hash)
    }

    static func credential(id: UUID, on database: some Queryable) async throws -> (UserRecord, PasswordHash)? {
        guard let row = try await database.query("SELECT * FROM identity.users WHERE id = \(id) FOR UPDATE").first(where: { _ in true })
        else { return nil }
        guard let hash = PasswordHash(encoded: try row.decode(String.self, "password_hash")) else {
            throw CorruptRow(description: "a password hash this code did not write")
        }
        return (try row.user, hash)
    }

    /// Replaces the hash; `bumpVersion` for a change the user made (not for a rehash at login).
    @discardableResult
    static func setPasswordHash(_ id: UUID, _ hash: PasswordHash, bumpVersion: Bool, on database: some Queryable) async throws -> UserRecord {
        try await database.query("""
            UPDATE identity.users SET password_hash = \(hash.encoded),
                version = version + CASE WHEN \(bumpVersion) THEN 1 ELSE 0 END,
                updated_at = CASE WHEN \(bumpVersion) THEN clock_timestamp() ELSE updated_at END
            WHERE id = \(id) RETURNING *
            """).single().user
    }

    /// The user, locked for the rest of the transaction.
    static func lock(_ id: UUID, on work: UnitOfWork) async throws -> UserRecord? {
        try await work.query("SELECT * FROM identity.users WHERE id = \(id) FOR UPDATE").first(where: { _ in true })?.user
    }

    /// Sets the status; bumps the version.
    static func setStatus(_ id: UUID, _ status: UserStatus, on work: UnitOfWork) async throws -> UserRecord {
        try await work.query("""
            UPDATE identity.users SET status = \(status.rawValue), version = version + 1, updated_at = clock_timestamp()
            WHERE id = \(id) RETURNING *
            """).single().user
    }

    /// Whether the user accepted their live (not removed) membership in `organization`; nil when
    /// they have none: what decides whether the organization may see the user, and how much of them.
    static func acceptedMembership(of user: UUID, in organization: UUID, on database: some Queryable) async throws -> Bool? {
        try await database.query("""
            SELECT accepted_at IS NOT NULL AS accepted FROM identity.memberships
            WHERE user_id = \(user) AND organization_id = \(organization) AND status <> 'REMOVED'
            """).first { _ in true }.map { try $0.decode(Bool.self, "accepted") }
    }

    /// Users with a live membership in the organization, in membership order, after `after`.
    static func list(
        _ filter: UserFilter, organization: UUID, after: TimeKey?, limit: Int, on database: some Queryable
    ) async throws -> [ListedUser] {
        try await database.query("""
            SELECT u.*, m.accepted_at IS NOT NULL AS membership_accepted, m.created_at AS member_since, m.id AS membership_id
            FROM identity.memberships m JOIN identity.users u ON u.id = m.user_id
            WHERE m.organization_id = \(organization) AND m.status <> 'REMOVED'
              AND (cardinality(\(filter.statuses.map(\.rawValue))::text[]) = 0 OR u.status = ANY(\(filter.statuses.map(\.rawValue))::text[]))
              AND (\(filter.query)::text IS NULL OR starts_with(lower(u.email), lower(\(filter.query)::text))
                   OR (m.accepted_at IS NOT NULL AND (starts_with(lower(u.first_name), lower(\(filter.query)::text))
                                                  OR starts_with(lower(u.last_name), lower(\(filter.query)::text)))))
              AND (\(after?.time)::timestamptz IS NULL OR (m.created_at, m.id) > (\(after?.time)::timestamptz, \(after?.id)::uuid))
            ORDER BY m.created_at, m.id
            LIMIT \(limit)
            """).map { row in
            ListedUser(
                user: try row.user, membershipAccepted: try row.decode(Bool.self, "membership_accepted"),
                membershipID: try row.decode(UUID.self, "membership_id"), memberSince: try row.decode(Instant.self, "member_since")
            )
        }
    }
}
