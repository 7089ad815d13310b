import Foundation
import KaroKarKernel

/// Users: created in an organization, seen through memberships, disabled by the platform.
extension Identity {
    /// A new user, made a member of an organization the caller reaches. The password is hashed
    /// before the transaction opens (no connection held meanwhile).
    nonisolated func createUser(
        _ profile: UserProfile, password: String, organization requested: UUID?, role roleID: UUID, _ invocation: Invocation
    ) async throws -> Member {
        let caller = try invocation.caller.authenticated()
        let user = NewUser(profile: profile, passwordHash: try await hasher.hash(password))
        return try await bus.mutation(invocation) { work in
            let organization = try await reachableOrganization(requested, caller, on: work)
            let role = try await grantableRole(roleID, in: organization, on: work)
            let created = try await UserStore.insert(user.record, passwordHash: user.passwordHash, on: work)
            let membership = try await MembershipStore.insert(
                id: UUID.random(), user: created.id, organization: organization.id, role: role.id, status: .active, on: work
            )
            try await work.publish(IdentityEvents.userCreated(created, organization: organization.id))
            try await work.publish(IdentityEvents.memberAdded(membership))
            return Member(membership: membership, user: created)
        }
    }

    /// One's own user always; anyone else's with member.read, if the caller's organization holds
    /// a live membership of theirs (platform administrators: anyone), as the organization sees them.
    nonisolated func user(_ id: UUID, _ invocation: Invocation) async throws -> UserRecord {
        let caller = try invocation.caller.authenticated()
        let own = caller.kind == .user && caller.principalID == id
        guard own || caller.has(.memberRead) else { throw IdentityErrors.otherUsersNeedMemberRead }
        return try await bus.read(invocation) { work in
            guard let user = try await UserStore.find(id, on: work) else { throw DomainError.notFound("user") }
            if own || caller.actsAcrossTenants { return user }
            guard let accepted = try await UserStore.acceptedMembership(of: id, in: caller.organizationID, on: work) else {
                throw DomainError.notFound("user")
            }
            return user.seen(accepted: accepted)
        }
    }

    /// Users with a live membership in an organization the caller reaches, as it may see them.
    nonisolated func users(
        _ filter: UserFilter, organization requested: UUID?, page: Page<TimeKey>, _ invocation: Invocation
    ) async throws -> [ListedUser] {
        let rows = try await readingOrganization(requested, invocation) { organization, work in
            try await UserStore.list(filter, organization: organization.id, after: page.after, limit: page.fetchLimit, on: work)
        }
        return rows.map { row in
            var seen = row
            seen.user = row.user.seen(accepted: row.membershipAccepted)
            return seen
        }
    }

    /// Disables a user everywhere: platform-wide, so platform administrators only (tenants remove
    /// members instead), never themselves.
    nonisolated func disableUser(_ id: UUID, reason: String, expectedVersion: Int64?, _ invocation: Invocation) async throws -> UserRecord {
        try PlatformOnly.check(invocation.caller)
        return try await bus.mutation(invocation) { work in
            try await disable(
                id, reason: reason, expectedVersion: expectedVersion, moderationAction: nil,
                actor: invocation.caller.principalID.lowercasedString, on: work
            )
        }
    }

    /// ACTIVE -> DISABLED in `work` (DisableUser, and Administration's moderation): the user's
    /// refresh tokens are revoked and their access tokens stop working at once. `actor` is the
    /// acting principal's id (nobody disables themselves).
    nonisolated func disable(
        _ id: UUID, reason: String, expectedVersion: Int64?, moderationAction: String?, actor: String, on work: UnitOfWork
    ) async throws -> UserRecord {
        guard id.lowercasedString != actor else { throw IdentityErrors.cannotDisableSelf }
        guard let user = try await UserStore.lock(id, on: work) else { throw DomainError.notFound("user") }
        try ExpectedVersion.check(expectedVersion, user.version, "user")
        guard user.status == .active else { throw IdentityErrors.userAlreadyDisabled }
        let disabled = try await UserStore.setStatus(id, .disabled, on: work)
        try await CredentialStore.revokeRefreshTokens(user: id, on: work)
        try await work.publish(IdentityEvents.userDisabled(disabled, reason: reason, moderationAction: moderationAction))
        try await accessChanged(.user(id), on: work)
        return disabled
    }
}
