import Foundation
import KaroKarKernel

/// The Identity context's aggregates, as the use cases hold them: stores read and write them,
/// the RPC edge maps them to messages (`RPC/Identity+Messages.swift`). `Codable`: an idempotent
/// use case's result is stored as one, and a retry gets it back.
struct OrganizationRecord: Sendable, Hashable, Codable {
    var id: UUID
    var name: String
    var kind: TenantKind
    var status: TenantStatus
    var parentID: UUID?
    var metadata: [String: String]
    var version: Int64
    var createdAt: Instant
    var updatedAt: Instant
}

struct UserRecord: Sendable, Hashable, Codable {
    var id: UUID
    var firstName: String
    var lastName: String
    var email: String
    var phone: String?
    var status: UserStatus
    var version: Int64
    var createdAt: Instant
    var updatedAt: Instant

    /// What an organization sees of a user it only invited: the e-mail it typed, nothing else,
    /// until the user accepts (decided; the README).
    var invitedView: UserRecord {
        var view = self
        view.firstName = ""
        view.lastName = ""
        view.phone = nil
        return view
    }

    /// The user as an organization may see them through its membership: all of them if the user
    /// accepted it (whatever its status since), else the invited view.
    func seen(accepted: Bool) -> UserRecord {
        accepted ? self : invitedView
    }
}

struct MembershipRecord: Sendable, Hashable, Codable {
    var id: UUID
    var userID: UUID
    var organizationID: UUID
    var roleID: UUID
    var roleName: String
    var status: MembershipStatus
    var version: Int64
    var createdAt: Instant
    var updatedAt: Instant
    /// When the user accepted it (nil: never, an invitation, or removed before acceptance): what
    /// decides whether the organization sees more of the user than the e-mail it typed.
    var acceptedAt: Instant?

    var isAccepted: Bool { acceptedAt != nil }
}

struct RoleRecord: Sendable, Hashable, Codable {
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

struct ServiceAccountRecord: Sendable, Hashable, Codable {
    var id: UUID
    var organizationID: UUID
    var name: String
    var description: String?
    var permissions: [String]
    var status: ServiceAccountStatus
    var createdBy: UUID
    var secretGeneration: Int64
    var secretRotatedAt: Instant
    var revokedAt: Instant?
    var version: Int64
    var createdAt: Instant
    var updatedAt: Instant
}

/// A membership with its user, as the organization sees the user (``UserRecord/seen(accepted:)``).
struct Member: Sendable, Hashable, Codable {
    var membership: MembershipRecord
    var user: UserRecord
}

/// A membership of the calling user with its organization.
struct OrganizationMembership: Sendable, Hashable {
    var membership: MembershipRecord
    var organization: OrganizationRecord
}

/// A user as listed for an organization, with their membership there.
struct ListedUser: Sendable, Hashable {
    var user: UserRecord
    var membershipAccepted: Bool
    var membershipID: UUID
    var memberSince: Instant
}

/// A registration: the organization, its first user, and their administrator membership.
struct Registration: Sendable, Hashable, Codable {
    var organization: OrganizationRecord
    var admin: UserRecord
    var membership: MembershipRecord
}
