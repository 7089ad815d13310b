import Foundation
import KaroKarKernel
import KaroKarPostgres

/// Loads a token's principal (on a cache miss only).
enum PrincipalStore {
    /// A membership's principal, with its sessions ended within `sessionsEndedWithin`.
    static func membership(_ id: UUID, sessionsEndedWithin: Duration, on database: some Queryable) async throws -> Principal? {
        let rows = try await database.query("""
            SELECT m.id AS m_id, m.user_id AS m_user_id, m.organization_id AS m_organization_id, m.role_id AS m_role_id,
                   m.role_name AS m_role_name, m.status AS m_status, m.version AS m_version, m.created_at AS m_created_at,
                   m.updated_at AS m_updated_at, m.accepted_at AS m_accepted_at, r.permissions AS role_permissions, u.*
            FROM identity.membership_details m JOIN identity.roles r ON r.id = m.role_id JOIN identity.users u ON u.id = m.user_id
            WHERE m.id = \(id)
            """)
        guard let row = rows.first(where: { _ in true }) else { return nil }
        let membership = try row.prefixedMembership
        guard let organization = try await OrganizationStore.find(membership.organizationID, on: database) else { return nil }
        return Principal(
            organization: organization, granted: permissions(try row.decode([String].self, "role_permissions")),
            user: try row.user, membership: membership, serviceAccount: nil,
            revokedSessions: try await CredentialStore.endedSessions(membership: id, within: sessionsEndedWithin, on: database)
        )
    }

    static func serviceAccount(_ id: UUID, on database: some Queryable) async throws -> Principal? {
        guard let account = try await ServiceAccountStore.find(id, on: database),
              let organization = try await OrganizationStore.find(account.organizationID, on: database)
        else { return nil }
        return Principal(organization: organization, granted: permissions(account.permissions), user: nil, membership: nil, serviceAccount: account)
    }

    /// Unknown names (a permission retired from the catalogue) grant nothing.
    static func permissions(_ names: [String]) -> Set<Permission> {
        Set(names.compactMap(Permission.init(rawValue:)))
    }
}
