import Foundation
import KaroKarKernel
import KaroKarPostgres

/// `identity.roles`: the seeded system roles.
enum RoleStore {
    static func find(_ id: UUID, on database: some Queryable) async throws -> RoleRecord? {
        try await database.query("SELECT * FROM identity.roles WHERE id = \(id)").first { _ in true }?.role
    }

    static func find(name: String, kind: TenantKind, on database: some Queryable) async throws -> RoleRecord? {
        try await database.query("""
            SELECT * FROM identity.roles WHERE name = \(name) AND organization_type = \(kind.rawValue)
            """).first { _ in true }?.role
    }

    /// Roles of one organization type, by name, after `afterName`.
    static func list(kind: TenantKind, afterName: String?, limit: Int, on database: some Queryable) async throws -> [RoleRecord] {
        try await database.query("""
            SELECT * FROM identity.roles
            WHERE organization_type = \(kind.rawValue) AND (\(afterName)::text IS NULL OR name > \(afterName)::text)
            ORDER BY name LIMIT \(limit)
            """).map { try $0.role }
    }

    /// Every permission some role of `kind` grants: the most a service account of such an
    /// organization may hold.
    static func grantable(in kind: TenantKind, on database: some Queryable) async throws -> Set<String> {
        let rows = try await database.query("""
            SELECT DISTINCT unnest(permissions) AS permission FROM identity.roles WHERE organization_type = \(kind.rawValue)
            """)
        return Set(try rows.map { try $0.decode(String.self, "permission") })
    }
}
