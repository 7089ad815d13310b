import Foundation
import KaroKarKernel
import KaroKarPostgres

/// A stored value that is not one this code writes (a hand-edited row).
struct CorruptRow: Error, CustomStringConvertible {
    let description: String
}

extension PostgresRow {
    func enumeration<E: RawRepresentable>(_ type: E.Type, _ column: String) throws -> E where E.RawValue == String {
        let text = try decode(String.self, column)
        guard let value = E(rawValue: text) else { throw CorruptRow(description: "\(column) holds an unknown value") }
        return value
    }

    var organization: OrganizationRecord {
        get throws {
            OrganizationRecord(
                id: try decode(UUID.self, "id"), name: try decode(String.self, "name"), kind: try enumeration(TenantKind.self, "type"),
                status: try enumeration(TenantStatus.self, "status"), parentID: try decode(UUID?.self, "parent_organization_id"),
                metadata: try MetadataJSON.decode(try decode(PostgresJSON.self, "metadata").text), version: try decode(Int64.self, "version"),
                createdAt: try decode(Instant.self, "created_at"), updatedAt: try decode(Instant.self, "updated_at")
            )
        }
    }

    var user: UserRecord {
        get throws {
            UserRecord(
                id: try decode(UUID.self, "id"), firstName: try decode(String.self, "first_name"), lastName: try decode(String.self, "last_name"),
                email: try decode(String.self, "email"), phone: try decode(String?.self, "phone"),
                status: try enumeration(UserStatus.self, "status"), version: try decode(Int64.self, "version"),
                createdAt: try decode(Instant.self, "created_at"), updatedAt: try decode(Instant.self, "updated_at")
            )
        }
    }

    /// A row of `identity.membership_details`.
    var membership: MembershipRecord {
        get throws {
            MembershipRecord(
                id: try decode(UUID.self, "id"), userID: try decode(UUID.self, "user_id"),
                organizationID: try decode(UUID.self, "organization_id"), roleID: try decode(UUID.self, "role_id"),
                roleName: try decode(String.self, "role_name"), status: try enumeration(MembershipStatus.self, "status"),
                version: try decode(Int64.self, "version"),
                createdAt: try decode(Instant.self, "created_at"), updatedAt: try decode(Instant.self, "updated_at"),
                acceptedAt: try decode(Instant?.self, "accepted_at")
            )
        }
    }

    var role: RoleRecord {
        get throws {
            RoleRecord(
                id: try decode(UUID.self, "id"), name: try decode(String.self, "name"),
                organizationKind: try enumeration(TenantKind.self, "organization_type"), description: try decode(String.self, "description"),
                isSystemRole: try decode(Bool.self, "is_system_role"), permissions: try decode([String].self, "permissions")
            )
        }
    }

    var serviceAccount: ServiceAccountRecord {
        get throws {
            ServiceAccountRecord(
                id: try decode(UUID.self, "id"), organizationID: try decode(UUID.self, "organization_id"), name: try decode(String.self, "name"),
                description: try decode(String?.self, "description"), permissions: try decode([String].self, "permissions"),
                status: try enumeration(ServiceAccountStatus.self, "status"), createdBy: try decode(UUID.self, "created_by"),
                secretGeneration: try decode(Int64.self, "secret_generation"),
                secretRotatedAt: try decode(Instant.self, "secret_rotated_at"),
                revokedAt: try decode(Instant?.self, "revoked_at"), version: try decode(Int64.self, "version"),
                createdAt: try decode(Instant.self, "created_at"), updatedAt: try decode(Instant.self, "updated_at")
            )
        }
    }
}

/// Organization metadata as `jsonb`: a flat object of strings.
enum MetadataJSON {
    static func encode(_ metadata: [String: String]) throws -> PostgresJSON {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return PostgresJSON(String(decoding: try encoder.encode(metadata), as: UTF8.self))
    }

    static func decode(_ text: String) throws -> [String: String] {
        do {
            return try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
        } catch {
            throw CorruptRow(description: "metadata is not an object of strings")
        }
    }
}
