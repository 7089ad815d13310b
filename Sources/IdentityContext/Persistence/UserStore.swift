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

    /// ACTIVE -> DISABLED. NOT_FOUND, STALE_VERSION, or FAILED_PRECONDITION when already disabled.
    static func disable(_ id: UUID, expectedVersion: Int64?, on work: UnitOfWork) async throws -> UserRecord {
        guard let user = try await work.query("SELECT * FROM identity.users WHERE id = \(id) FOR UPDATE").first(where: { _ in true })?.user else {
            throw DomainError.notFound("user")
        }
        try expectedVersion.check(against: user.version, "user")
        guard user.status == .active else { throw DomainError.failedPrecondition("USER_ALREADY_DISABLED", "the user is already disabled") }
        return try await work.query("""
            UPDATE identity.users SET status = 'DISABLED', version = version + 1, updated_at = clock_timestamp()
            WHERE id = \(id) RETURNING *
            """).single().user
    }

    /// The status of the user's live (not removed) membership in `organization`, if any: what
    /// decides whether the organization may see the user, and how much of them.
    static func membershipStatus(of user: UUID, in organization: UUID, on database: some Queryable) async throws -> MembershipStatus? {
        try await database.query("""
            SELECT status FROM identity.memberships WHERE user_id = \(user) AND organization_id = \(organization) AND status <> 'REMOVED'
            """).first { _ in true }.map { try $0.enumeration(MembershipStatus.self, "status") }
    }

    struct Filter: Sendable {
        var organization: UUID
        var statuses: [UserStatus] = []
        var query: String?
    }

    /// A user as listed for an organization, with their membership there.
    struct Listed: Sendable {
        var user: UserRecord
        var membershipStatus: MembershipStatus
        var membershipID: UUID
        var memberSince: PostgresTimestamp
    }

    /// Users with a live membership in the organization, in membership order.
    static func list(_ filter: Filter, page: Keyset, on database: some Queryable) async throws -> [Listed] {
        try await database.query("""
            SELECT u.*, m.status AS membership_status, m.created_at AS member_since, m.id AS membership_id
            FROM identity.memberships m JOIN identity.users u ON u.id = m.user_id
            WHERE m.organization_id = \(filter.organization) AND m.status <> 'REMOVED'
              AND (cardinality(\(filter.statuses.map(\.rawValue))::text[]) = 0 OR u.status = ANY(\(filter.statuses.map(\.rawValue))::text[]))
              AND (\(filter.query)::text IS NULL OR starts_with(lower(u.email), lower(\(filter.query)::text))
                   OR (m.status <> 'INVITED' AND (starts_with(lower(u.first_name), lower(\(filter.query)::text))
                                                  OR starts_with(lower(u.last_name), lower(\(filter.query)::text)))))
              AND (\(page.afterTime)::timestamptz IS NULL OR (m.created_at, m.id) > (\(page.afterTime)::timestamptz, \(page.afterID)::uuid))
            ORDER BY m.created_at, m.id
            LIMIT \(page.fetchLimit)
            """).map { row in
            Listed(
                user: try row.user, membershipStatus: try row.enumeration(MembershipStatus.self, "membership_status"),
                membershipID: try row.decode(UUID.self, "membership_id"), memberSince: try row.decode(PostgresTimestamp.self, "member_since")
            )
        }
    }
}
