import Foundation
import KaroKarKernel

/// Memberships: listed, added, given another role, removed.
extension Identity {
    /// An organization's members (the caller's, or one it reaches), users as it may see them.
    nonisolated func members(
        _ filter: MemberFilter, organization requested: UUID?, page: Page<TimeKey>, _ invocation: Invocation
    ) async throws -> [Member] {
        let rows = try await readingOrganization(requested, invocation) { organization, work in
            try await MembershipStore.list(filter, organization: organization.id, after: page.after, limit: page.fetchLimit, on: work)
        }
        return rows.map { Member(membership: $0.membership, user: $0.user.seen(accepted: $0.membership.isAccepted)) }
    }

    /// An existing user joins an organization: invited by a tenant (they accept by logging in for
    /// it), added at once by a platform administrator. By id, only users the organization already
    /// knows (a past or present member) or any user for platform administrators.
    nonisolated func addMember(
        _ reference: MemberReference, organization requested: UUID?, role roleID: UUID, _ invocation: Invocation
    ) async throws -> MembershipRecord {
        let caller = try invocation.caller.authenticated()
        return try await bus.mutation(invocation) { work in
            let organization = try await reachableOrganization(requested, caller, on: work)
            let role = try await grantableRole(roleID, in: organization, on: work)
            let user = try await memberCandidate(reference, organization: organization.id, caller, on: work)
            let membership = try await MembershipStore.insert(
                id: UUID.random(), user: user.id, organization: organization.id, role: role.id,
                status: caller.actsAcrossTenants ? .active : .invited, on: work
            )
            try await work.publish(IdentityEvents.memberAdded(membership))
            return membership
        }
    }

    private nonisolated func memberCandidate(
        _ reference: MemberReference, organization: UUID, _ caller: Caller, on work: UnitOfWork
    ) async throws -> UserRecord {
        switch reference {
        case .email(let email):
            guard let user = try await UserStore.find(email: email, on: work) else { throw DomainError.notFound("user") }
            return user
        case .id(let id):
            guard let user = try await UserStore.find(id, on: work) else { throw DomainError.notFound("user") }
            if caller.actsAcrossTenants || user.id == caller.principalID { return user }
            guard try await MembershipStore.hasAny(user: id, organization: organization, on: work) else { throw DomainError.notFound("user") }
            return user
        }
    }

    nonisolated func changeMemberRole(
        _ id: UUID, role roleID: UUID, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> MembershipRecord {
        let caller = try invocation.caller.authenticated()
        return try await bus.mutation(invocation) { work in
            let (membership, organization) = try await changeableMembership(id, expectedVersion: expectedVersion, caller, on: work)
            let role = try await grantableRole(roleID, in: organization, on: work)
            guard role.id != membership.roleID else { return membership }
            if !role.isAdministrator { try await keepAnAdministrator(membership, on: work) }
            let changed = try await MembershipStore.update(id, role: role.id, status: membership.status, on: work)
            try await work.publish(IdentityEvents.memberRoleChanged(changed, previous: membership))
            try await accessChanged(.membership(id), on: work)
            return changed
        }
    }

    /// Ends a membership; its refresh tokens are revoked and its access tokens stop working.
    nonisolated func removeMember(
        _ id: UUID, reason: String?, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> MembershipRecord {
        let caller = try invocation.caller.authenticated()
        return try await bus.mutation(invocation) { work in
            let (membership, _) = try await changeableMembership(id, expectedVersion: expectedVersion, caller, on: work)
            try await keepAnAdministrator(membership, on: work)
            let removed = try await MembershipStore.update(id, role: membership.roleID, status: .removed, on: work)
            try await CredentialStore.revokeRefreshTokens(membership: id, on: work)
            try await work.publish(IdentityEvents.memberRemoved(removed, reason: reason))
            try await accessChanged(.membership(id), on: work)
            return removed
        }
    }

    /// A live membership the caller may change (NOT_FOUND otherwise), locked, and its
    /// organization, locked after it (always in this order, so concurrent changes cannot deadlock).
    private nonisolated func changeableMembership(
        _ id: UUID, expectedVersion: Int64?, _ caller: Caller, on work: UnitOfWork
    ) async throws -> (MembershipRecord, OrganizationRecord) {
        guard let membership = try await MembershipStore.lock(id, on: work), membership.status != .removed,
              caller.reaches(membership.organizationID),
              let organization = try await OrganizationStore.lock(membership.organizationID, on: work)
        else { throw DomainError.notFound("membership") }
        try ExpectedVersion.check(expectedVersion, membership.version, "membership")
        return (membership, organization)
    }

    /// Refuses to leave the organization without an ACTIVE administrator.
    private nonisolated func keepAnAdministrator(_ membership: MembershipRecord, on work: UnitOfWork) async throws {
        guard membership.status == .active, SystemRole.administratorNames.contains(membership.roleName) else { return }
        let others = try await MembershipStore.otherActiveAdministrators(in: membership.organizationID, excluding: membership.id, on: work)
        guard others > 0 else { throw IdentityErrors.lastAdministrator }
    }
}
