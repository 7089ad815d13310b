import Foundation
import KaroKarKernel
import KaroKarPostgres

/// `identity.memberships` (read through `identity.membership_details`, which adds the role name).
enum MembershipStore {
    /// A new membership; one made ACTIVE is accepted as it is made.
    static func insert(
        id: UUID, user: UUID, organization: UUID, role: UUID, status: MembershipStatus, on work: UnitOfWork
    ) async throws -> MembershipRecord {
        do {
            try await work.query("""
                INSERT INTO identity.memberships (id, user_id, organization_id, role_id, status, accepted_at)
                VALUES (\(id), \(user), \(organization), \(role), \(status.rawValue), CASE WHEN \(status == .active) THEN clock_timestamp() END)
                """)
        } catch let error as PostgresError {
            throw mapped(error)
        }
        return try await find(id, on: work)!
    }

    static func find(_ id: UUID, on database: some Queryable) async throws -> MembershipRecord? {
        try await database.query("SELECT * FROM identity.membership_details WHERE id = \(id)").first { _ in true }?.membership
    }

    static func lock(_ id: UUID, on work: UnitOfWork) async throws -> MembershipRecord? {
        try await work.query("SELECT id FROM identity.memberships WHERE id = \(id) FOR UPDATE")
        return try await find(id, on: work)
    }

    /// The user's live membership in the organization.
    static func live(user: UUID, organization: UUID, on database: some Queryable) async throws -> MembershipRecord? {
        try await database.query("""
            SELECT * FROM identity.membership_details WHERE user_id = \(user) AND organization_id = \(organization) AND status <> 'REMOVED'
            """).first { _ in true }?.membership
    }

    /// The user's first `limit` memberships in `statuses`, by creation.
    static func ofUser(_ user: UUID, statuses: [MembershipStatus], limit: Int, on database: some Queryable) async throws -> [MembershipRecord] {
        try await database.query("""
            SELECT * FROM identity.membership_details
            WHERE user_id = \(user) AND status = ANY(\(statuses.map(\.rawValue))::text[])
            ORDER BY created_at, id
            LIMIT \(limit)
            """).map { try $0.membership }
    }

    /// Whether the user ever had a membership (removed ones included) in the organization.
    static func hasAny(user: UUID, organization: UUID, on database: some Queryable) async throws -> Bool {
        try await !database.query("""
            SELECT 1 FROM identity.memberships WHERE user_id = \(user) AND organization_id = \(organization) LIMIT 1
            """).isEmpty
    }

    /// The user's live memberships (invitations included) with their organizations.
    static func ofUserWithOrganizations(
        _ user: UUID, after: TimeKey?, limit: Int, on database: some Queryable
    ) async throws -> [OrganizationMembership] {
        try await database.query("""
            SELECT m.id AS m_id, m.user_id AS m_user_id, m.organization_id AS m_organization_id, m.role_id AS m_role_id,
                   m.role_name AS m_role_name, m.status AS m_status, m.version AS m_version, m.created_at AS m_created_at,
                   m.updated_at AS m_updated_at, m.accepted_at AS m_accepted_at, o.*
            FROM identity.membership_details m JOIN identity.organizations o ON o.id = m.organization_id
            WHERE m.user_id = \(user) AND m.status <> 'REMOVED'
              AND (\(after?.time)::timestamptz IS NULL OR (m.created_at, m.id) > (\(after?.time)::timestamptz, \(after?.id)::uuid))
            ORDER BY m.created_at, m.id
            LIMIT \(limit)
            """).map { row in OrganizationMembership(membership: try row.prefixedMembership, organization: try row.organization) }
    }

    /// The organization's members `filter` selects (every live status when it names none), by
    /// membership, with their users (as stored: the use case decides what the organization sees,
    /// from the membership's acceptance).
    static func list(
        _ filter: MemberFilter, organization: UUID, after: TimeKey?, limit: Int, on database: some Queryable
    ) async throws -> [Member] {
        let statuses = filter.statuses.isEmpty ? [MembershipStatus.invited, .active, .suspended] : filter.statuses
        return try await database.query("""
            SELECT m.id AS m_id, m.user_id AS m_user_id, m.organization_id AS m_organization_id, m.role_id AS m_role_id,
                   m.role_name AS m_role_name, m.status AS m_status, m.version AS m_version, m.created_at AS m_created_at,
                   m.updated_at AS m_updated_at, m.accepted_at AS m_accepted_at, u.*
            FROM identity.membership_details m JOIN identity.users u ON u.id = m.user_id
            WHERE m.organization_id = \(organization) AND m.status = ANY(\(statuses.map(\.rawValue))::text[])
              AND (\(filter.role)::uuid IS NULL OR m.role_id = \(filter.role)::uuid)
              AND (\(after?.time)::timestamptz IS NULL OR (m.created_at, m.id) > (\(after?.time)::timestamptz, \(after?.id)::uuid))
            ORDER BY m.created_at, m.id
            LIMIT \(limit)
            """).map { row in Member(membership: try row.prefixedMembership, user: try row.user) }
    }

    /// Changes role and/or status; bumps the version.
    static func update(_ id: UUID, role: UUID, status: MembershipStatus, on work: UnitOfWork) async throws -> MembershipRecord {
        do {
            try await work.query("""
                UPDATE identity.memberships SET role_id = \(role), status = \(status.rawValue), version = version + 1,
                    updated_at = clock_timestamp()
                WHERE id = \(id)
                """)
        } catch let error as PostgresError {
            throw mapped(error)
        }
        return try await find(id, on: work)!
    }

    /// The user accepts an invitation: ACTIVE, accepted now; bumps the version.
    static func accept(_ id: UUID, on work: UnitOfWork) async throws -> MembershipRecord {
        try await work.query("""
            UPDATE identity.memberships SET status = 'ACTIVE', accepted_at = clock_timestamp(), version = version + 1,
                updated_at = clock_timestamp()
            WHERE id = \(id)
            """)
        return try await find(id, on: work)!
    }

    /// ACTIVE members holding an administrator role, other than `excluding`.
    static func otherActiveAdministrators(in organization: UUID, excluding: UUID, on work: UnitOfWork) async throws -> Int {
        try await work.query("""
            SELECT count(*) AS n FROM identity.membership_details
            WHERE organization_id = \(organization) AND id <> \(excluding) AND status = 'ACTIVE'
              AND role_name = ANY(\(Array(SystemRole.administratorNames))::text[])
            """).single().decode(Int.self, "n")
    }

    private static func mapped(_ error: PostgresError) -> any Error {
        switch (error.code, error.constraint) {
        case (.uniqueViolation, "memberships_one_per_user_and_org"): IdentityErrors.duplicateMembership
        case (.checkViolation, "memberships_role_fits_organization"): IdentityErrors.roleMismatch
        default: error
        }
    }
}

extension PostgresRow {
    /// A membership read with `m_`-prefixed columns (joined with its user).
    var prefixedMembership: MembershipRecord {
        get throws {
            MembershipRecord(
                id: try decode(UUID.self, "m_id"), userID: try decode(UUID.self, "m_user_id"),
                organizationID: try decode(UUID.self, "m_organization_id"), roleID: try decode(UUID.self, "m_role_id"),
                roleName: try decode(String.self, "m_role_name"), status: try enumeration(MembershipStatus.self, "m_status"),
                version: try decode(Int64.self, "m_version"),
                createdAt: try decode(Instant.self, "m_created_at"), updatedAt: try decode(Instant.self, "m_updated_at"),
                acceptedAt: try decode(Instant?.self, "m_accepted_at")
            )
        }
    }
}
