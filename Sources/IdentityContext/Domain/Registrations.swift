import Foundation
import KaroKarKernel

/// A new user's details, validated at the RPC edge; the password travels beside it and is hashed
/// by the use case (off the event loops, before its transaction opens).
struct UserProfile: Sendable, Hashable {
    var firstName: String
    var lastName: String
    var email: String
    var phone: String?
}

/// A new user, the password already hashed.
struct NewUser: Sendable {
    var id = UUID.random()
    var profile: UserProfile
    var passwordHash: PasswordHash

    var record: UserRecord {
        UserRecord(
            id: id, firstName: profile.firstName, lastName: profile.lastName, email: profile.email, phone: profile.phone,
            status: .active, version: 1, createdAt: Instant(microseconds: 0), updatedAt: Instant(microseconds: 0)
        )
    }
}

/// A validated new organization.
struct NewOrganization: Sendable {
    var id = UUID.random()
    var name: String
    var kind: TenantKind
    var status: TenantStatus = .pending
    var metadata: [String: String]

    var record: OrganizationRecord {
        OrganizationRecord(
            id: id, name: name, kind: kind, status: status, parentID: nil, metadata: metadata, version: 1,
            createdAt: Instant(microseconds: 0), updatedAt: Instant(microseconds: 0)
        )
    }
}

/// Who AddMember names.
enum MemberReference: Sendable, Hashable {
    case id(UUID)
    case email(String)
}

/// A new service account's details, validated at the RPC edge.
struct ServiceAccountDraft: Sendable, Hashable {
    var name: String
    var description: String?
    var permissions: Set<Permission>
}

/// Which organizations a listing shows (besides what the caller may see).
struct OrganizationFilter: Sendable, Hashable {
    var kind: TenantKind?
    var statuses: [TenantStatus] = []
    var parentID: UUID?
    var namePrefix: String?
}

/// Which members of an organization a listing shows.
struct MemberFilter: Sendable, Hashable {
    /// Empty: every live status (invited, active, suspended).
    var statuses: [MembershipStatus] = []
    var role: UUID?
}

/// Which users of an organization a listing shows.
struct UserFilter: Sendable, Hashable {
    var statuses: [UserStatus] = []
    /// A prefix of the e-mail, or of a name (only of users seen through an accepted membership).
    var query: String?
}
