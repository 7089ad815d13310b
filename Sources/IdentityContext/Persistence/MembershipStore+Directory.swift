import Foundation
import KaroKarKernel
import KaroKarPostgres

/// The one read behind Identity's answer to the kernel's ``MemberDirectory`` port.
extension MembershipStore {
    /// The user's live membership of the organization, with its role's name and whether the
    /// user's account is active; nil when there is none.
    static func directoryEntry(user: UUID, organization: UUID, on database: some Queryable) async throws -> MemberFacts? {
        guard let row = try await database.query("""
            SELECT m.status, r.name AS role_name, u.status = 'ACTIVE' AS user_active
            FROM identity.memberships m
            JOIN identity.roles r ON r.id = m.role_id
            JOIN identity.users u ON u.id = m.user_id
            WHERE m.user_id = \(user) AND m.organization_id = \(organization) AND m.status <> 'REMOVED'
            """).first(where: { _ in true }) else { return nil }
        guard let status = MemberFacts.Status(rawValue: try row.decode(String.self, "status")) else {
            throw CorruptRow(description: "memberships.status holds an unknown value")
        }
        return MemberFacts(
            userID: user, organizationID: organization, status: status, roleName: try row.decode(String.self, "role_name"),
            userIsActive: try row.decode(Bool.self, "user_active")
        )
    }
}
