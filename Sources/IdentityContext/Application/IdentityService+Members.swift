import Foundation
import KaroKarKernel
import KaroKarMessages

extension IdentityService {
    /// A live membership the caller may change (NOT_FOUND otherwise), locked, and its
    /// organization, locked after it (always in this order, so concurrent changes cannot deadlock).
    private func changeableMembership(
        _ id: UUID, expectedVersion: Int64?, caller: Caller, on work: UnitOfWork
    ) async throws -> (MembershipRecord, OrganizationRecord) {
        guard let membership = try await MembershipStore.lock(id, on: work), membership.status != .removed,
              caller.reaches(membership.organizationID),
              let organization = try await OrganizationStore.lock(membership.organizationID, on: work)
        else { throw DomainError.notFound("membership") }
        try expectedVersion.check(against: membership.version, "membership")
        return (membership, organization)
    }

    /// Refuses to leave the organization without an ACTIVE administrator.
    private func keepAnAdministrator(_ membership: MembershipRecord, on work: UnitOfWork) async throws {
        guard membership.status == .active, SystemRole.administratorNames.contains(membership.roleName) else { return }
        let others = try await MembershipStore.otherActiveAdministrators(in: membership.organizationID, excluding: membership.id, on: work)
        guard others > 0 else { throw IdentityErrors.lastAdministrator }
    }

    func changeMemberRole(
        _ id: UUID, role roleID: UUID, expectedVersion: Int64?, caller: Caller, on work: UnitOfWork
    ) async throws -> MembershipRecord {
        let (membership, organization) = try await changeableMembership(id, expectedVersion: expectedVersion, caller: caller, on: work)
        let role = try await grantableRole(roleID, in: organization, on: work)
        guard role.id != membership.roleID else { return membership }
        if !role.isAdministrator { try await keepAnAdministrator(membership, on: work) }
        let changed = try await MembershipStore.update(id, role: role.id, status: membership.status, on: work)
        try await work.publish(EventDraft(
            "member.role_changed", aggregateType: "membership", aggregateID: id.lowercased, aggregateVersion: changed.version,
            payload: .memberRoleChanged(EventsV1.MemberRoleChanged(
                membershipId: id.lowercased, userId: changed.userID.lowercased, organizationId: changed.organizationID.lowercased,
                previousRoleId: membership.roleID.lowercased, previousRoleName: membership.roleName,
                roleId: changed.roleID.lowercased, roleName: changed.roleName
            ))
        ))
        try await AccessChangeSignal.send(on: work)
        uncommitted(.membership(id))
        return changed
    }

    func removeMember(
        _ id: UUID, reason: String?, expectedVersion: Int64?, caller: Caller, on work: UnitOfWork
    ) async throws -> MembershipRecord {
        let (membership, _) = try await changeableMembership(id, expectedVersion: expectedVersion, caller: caller, on: work)
        try await keepAnAdministrator(membership, on: work)
        let removed = try await MembershipStore.update(id, role: membership.roleID, status: .removed, on: work)
        try await CredentialStore.revokeRefreshTokens(membership: id, on: work)
        try await work.publish(EventDraft(
            "member.removed", aggregateType: "membership", aggregateID: id.lowercased, aggregateVersion: removed.version,
            payload: .memberRemoved(EventsV1.MemberRemoved(
                membershipId: id.lowercased, userId: removed.userID.lowercased, organizationId: removed.organizationID.lowercased,
                roleId: removed.roleID.lowercased, roleName: removed.roleName, reason: reason.map { CommonV1.StringValue(value: $0) }
            ))
        ))
        try await AccessChangeSignal.send(on: work)
        uncommitted(.membership(id))
        return removed
    }

    /// Disables a user everywhere (platform administrators only; the RPC and the moderation
    /// reaction both check that). Their refresh tokens are revoked and their access tokens stop
    /// working at once.
    func disableUser(
        _ id: UUID, reason: String, expectedVersion: Int64?, moderationAction: String?, actor: String, on work: UnitOfWork
    ) async throws -> UserRecord {
        guard id.lowercased != actor else {
            throw DomainError.failedPrecondition("CANNOT_DISABLE_SELF", "administrators cannot disable their own user")
        }
        let user = try await UserStore.disable(id, expectedVersion: expectedVersion, on: work)
        try await CredentialStore.revokeRefreshTokens(user: id, on: work)
        try await work.publish(EventDraft(
            "user.disabled", aggregateType: "user", aggregateID: id.lowercased, aggregateVersion: user.version,
            payload: .userDisabled(EventsV1.UserDisabled(
                userId: id.lowercased, reason: reason, moderationActionId: moderationAction.map { CommonV1.StringValue(value: $0) }
            ))
        ))
        try await AccessChangeSignal.send(on: work)
        uncommitted(.user(id))
        return user
    }
}
