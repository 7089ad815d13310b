import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres

/// A validated new user (the password already hashed, off the event loops).
struct NewUser: Sendable {
    var id = UUID.random()
    var firstName: String
    var lastName: String
    var email: String
    var phone: String?
    var passwordHash: PasswordHash

    var record: UserRecord {
        UserRecord(
            id: id, firstName: firstName, lastName: lastName, email: email, phone: phone, status: .active, version: 1,
            createdAt: PostgresTimestamp(microseconds: 0), updatedAt: PostgresTimestamp(microseconds: 0)
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
            createdAt: PostgresTimestamp(microseconds: 0), updatedAt: PostgresTimestamp(microseconds: 0)
        )
    }
}

/// Who AddMember names.
enum MemberReference: Sendable {
    case id(UUID)
    case email(String)
}

extension IdentityService {
    /// Onboarding: the organization, its first user, and their administrator membership. The
    /// platform organization (bootstrap) is created the same way, `ACTIVE`.
    func register(
        _ organization: NewOrganization, admin: NewUser, on work: UnitOfWork
    ) async throws -> (OrganizationRecord, UserRecord, MembershipRecord) {
        let created = try await OrganizationStore.insert(organization.record, on: work)
        let user = try await UserStore.insert(admin.record, passwordHash: admin.passwordHash, on: work)
        guard let role = try await RoleStore.find(name: SystemRole.administrator(of: organization.kind), kind: organization.kind, on: work) else {
            throw CorruptRow(description: "the administrator role is not seeded")
        }
        let membership = try await MembershipStore.insert(
            id: UUID.random(), user: user.id, organization: created.id, role: role.id, status: .active, on: work
        )
        try await work.publish(EventDraft(
            "organization.registered", aggregateType: "organization", aggregateID: created.id.lowercased, aggregateVersion: created.version,
            payload: .organizationRegistered(EventsV1.OrganizationRegistered(
                organizationId: created.id.lowercased, name: created.name, organizationType: created.kind.event,
                metadata: created.metadata, adminUserId: user.id.lowercased
            ))
        ))
        try await publishUserCreated(user, organization: created.id, on: work)
        try await publishMemberAdded(membership, on: work)
        return (created, user, membership)
    }

    /// A new user, made a member of an organization the caller reaches.
    func createUser(
        _ user: NewUser, organization requested: UUID?, role roleID: UUID, caller: Caller, on work: UnitOfWork
    ) async throws -> (UserRecord, MembershipRecord) {
        let organization = try await reachableOrganization(requested, caller: caller, on: work)
        let role = try await grantableRole(roleID, in: organization, on: work)
        let created = try await UserStore.insert(user.record, passwordHash: user.passwordHash, on: work)
        let membership = try await MembershipStore.insert(
            id: UUID.random(), user: created.id, organization: organization.id, role: role.id, status: .active, on: work
        )
        try await publishUserCreated(created, organization: organization.id, on: work)
        try await publishMemberAdded(membership, on: work)
        return (created, membership)
    }

    /// An existing user joins an organization: invited by a tenant (they accept by logging in for
    /// it), added at once by a platform administrator. By id, only users the organization already
    /// knows (a past or present member) or any user for platform administrators.
    func addMember(
        _ reference: MemberReference, organization requested: UUID?, role roleID: UUID, caller: Caller, on work: UnitOfWork
    ) async throws -> MembershipRecord {
        let organization = try await reachableOrganization(requested, caller: caller, on: work)
        let role = try await grantableRole(roleID, in: organization, on: work)
        let user = try await memberCandidate(reference, organization: organization.id, caller: caller, on: work)
        let membership = try await MembershipStore.insert(
            id: UUID.random(), user: user.id, organization: organization.id, role: role.id,
            status: caller.actsAcrossTenants ? .active : .invited, on: work
        )
        try await publishMemberAdded(membership, on: work)
        return membership
    }

    private func memberCandidate(
        _ reference: MemberReference, organization: UUID, caller: Caller, on work: UnitOfWork
    ) async throws -> UserRecord {
        switch reference {
        case .email(let email):
            guard let user = try await UserStore.find(email: email, on: work) else { throw DomainError.notFound("user") }
            return user
        case .id(let id):
            guard let user = try await UserStore.find(id, on: work) else { throw DomainError.notFound("user") }
            if caller.actsAcrossTenants || user.id == caller.principalID { return user }
            let known = try await work.query("""
                SELECT 1 FROM identity.memberships WHERE user_id = \(id) AND organization_id = \(organization) LIMIT 1
                """)
            guard !known.isEmpty else { throw DomainError.notFound("user") }
            return user
        }
    }
}
