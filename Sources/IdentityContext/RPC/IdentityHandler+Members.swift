import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC

/// Memberships: listed, added, given another role, removed.
extension IdentityHandler {
    func listMembers(_ request: IdentityV1.ListMembersRequest, context: ServerCallContext) async throws -> IdentityV1.ListMembersResponse {
        var check = Validation()
        let organization = check.optionalUUID(request.organizationId, "organizationId")
        var filter = MemberFilter()
        filter.statuses = check.knownList(request.statuses, "statuses").compactMap(MembershipStatus.init)
        filter.role = check.optionalUUID(request.roleId, "roleId.value")
        try check.finish()
        let page = try Page<TimeKey>(request.page, list: "identity.members", tokens: pages)
        let rows = try await identity.members(filter, organization: organization, page: page, Invocation(context, fingerprint: request))
        let (kept, next) = page.cut(rows) { TimeKey($0.membership.createdAt, $0.membership.id) }
        return IdentityV1.ListMembersResponse(members: kept.map(\.message), page: next)
    }

    func addMember(_ request: IdentityV1.AddMemberRequest, context: ServerCallContext) async throws -> IdentityV1.AddMemberResponse {
        var check = Validation()
        let organization = check.optionalUUID(request.organizationId, "organizationId")
        let role = check.uuid(request.roleId, "roleId")
        var reference = MemberReference.id(UUID.random())
        switch request.user {
        case .userId(let id)?: reference = .id(check.uuid(id, "userId"))
        case .email(let email)?: reference = .email(check.email(email, "email"))
        case nil: check.add("user", "REQUIRED", "name the user by userId or email")
        }
        try check.finish()
        let membership = try await identity.addMember(reference, organization: organization, role: role, Invocation(context, fingerprint: request))
        return IdentityV1.AddMemberResponse(membership: membership.message)
    }

    func changeMemberRole(
        _ request: IdentityV1.ChangeMemberRoleRequest, context: ServerCallContext
    ) async throws -> IdentityV1.ChangeMemberRoleResponse {
        var check = Validation()
        let id = check.uuid(request.membershipId, "membershipId")
        let role = check.uuid(request.roleId, "roleId")
        let expected = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let membership = try await identity.changeMemberRole(id, role: role, expectedVersion: expected, Invocation(context, fingerprint: request))
        return IdentityV1.ChangeMemberRoleResponse(membership: membership.message)
    }

    func removeMember(_ request: IdentityV1.RemoveMemberRequest, context: ServerCallContext) async throws -> IdentityV1.RemoveMemberResponse {
        var check = Validation()
        let id = check.uuid(request.membershipId, "membershipId")
        let reason = check.optionalText(request.reason, "reason.value", maximumLength: 500)
        let expected = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let membership = try await identity.removeMember(id, reason: reason, expectedVersion: expected, Invocation(context, fingerprint: request))
        return IdentityV1.RemoveMemberResponse(membership: membership.message)
    }
}
