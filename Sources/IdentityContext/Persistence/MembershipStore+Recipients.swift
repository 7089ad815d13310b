import Foundation
import KaroKarKernel
import KaroKarPostgres

/// The reads behind Identity's answer to the kernel's ``RecipientDirectory`` port.
extension MembershipStore {
    static func recipients(organization: UUID, roles: [String], limit: Int, on database: some Queryable) async throws -> [RecipientFacts] {
        try await database.query("""
            SELECT u.id, u.first_name, u.last_name, u.email, u.phone
            FROM identity.memberships m
            JOIN identity.roles r ON r.id = m.role_id
            JOIN identity.users u ON u.id = m.user_id
            WHERE m.organization_id = \(organization) AND m.status IN ('ACTIVE', 'INVITED') AND u.status = 'ACTIVE'
              AND r.name = ANY (\(roles)::text[])
            ORDER BY u.id LIMIT \(max(1, limit))
            """).map { row in
            RecipientFacts(
                userID: try row.decode(UUID.self, "id"), organizationID: organization, firstName: try row.decode(String.self, "first_name"),
                lastName: try row.decode(String.self, "last_name"), email: try row.decode(String.self, "email"),
                phone: try row.decode(String?.self, "phone"), isReachable: true
            )
        }
    }

    static func recipient(user: UUID, organization: UUID, on database: some Queryable) async throws -> RecipientFacts? {
        guard let row = try await database.query("""
            SELECT u.first_name, u.last_name, u.email, u.phone,
                   u.status = 'ACTIVE' AND coalesce(m.status IN ('ACTIVE', 'INVITED'), false) AS reachable
            FROM identity.users u
            LEFT JOIN identity.memberships m ON m.user_id = u.id AND m.organization_id = \(organization) AND m.status <> 'REMOVED'
            WHERE u.id = \(user)
            """).first(where: { _ in true }) else { return nil }
        return RecipientFacts(
            userID: user, organizationID: organization, firstName: try row.decode(String.self, "first_name"),
            lastName: try row.decode(String.self, "last_name"), email: try row.decode(String.self, "email"),
            phone: try row.decode(String?.self, "phone"), isReachable: try row.decode(Bool.self, "reachable")
        )
    }
}
