import Foundation
import KaroKarKernel
import KaroKarPostgres

/// The Identity context's aggregates as stored. Persistence reads them; the RPC layer maps them
/// to messages.
struct OrganizationRecord: Sendable, Hashable {
    var id: UUID
    var name: String
    var kind: TenantKind
    var status: TenantStatus
    var parentID: UUID?
    var metadata: [String: String]
    var version: Int64
    var createdAt: PostgresTimestamp
    var updatedAt: PostgresTimestamp
}

struct UserRecord: Sendable, Hashable {
    var id: UUID
    var firstName: String
    var lastName: String
    var email: String
    var phone: String?
    var status: UserStatus
    var version: Int64
    var createdAt: PostgresTimestamp
    var updatedAt: PostgresTimestamp

    /// What an organization sees of a user it only invited: the e-mail it typed, nothing else,
    /// until the user accepts (decided; the README).
    var invitedView: UserRecord {
        var view = self
        view.firstName = ""
        view.lastName = ""
        view.phone = nil
        return view
    }
}

struct MembershipRecord: Sendable, Hashable {
    var id: UUID
    var userID: UUID
    var organizationID: UUID
    var roleID: UUID
    var roleName: String
    var status: MembershipStatus
    var version: Int64
    var createdAt: PostgresTimestamp
    var updatedAt: PostgresTimestamp
}

struct RoleRecord: Sendable, Hashable {
    var id: UUID
    var name: String
    var organizationKind: TenantKind
    var description: String
    var isSystemRole: Bool
    var permissions: [String]

    var isAdministrator: Bool {
        SystemRole.administratorNames.contains(name)
    }
}

struct ServiceAccountRecord: Sendable, Hashable {
    var id: UUID
    var organizationID: UUID
    var name: String
    var description: String?
    var permissions: [String]
    var status: ServiceAccountStatus
    var createdBy: UUID
    var secretGeneration: Int64
    var secretRotatedAt: PostgresTimestamp
    var revokedAt: PostgresTimestamp?
    var version: Int64
    var createdAt: PostgresTimestamp
    var updatedAt: PostgresTimestamp
}

extension Optional where Wrapped == Int64 {
    /// Optimistic concurrency: a sent version must be the current one.
    func check(against actual: Int64, _ what: String) throws(DomainError) {
        if let expected = self, expected != actual {
            throw DomainError.staleVersion(what, expected: expected, actual: actual)
        }
    }
}
