import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC

/// Memberships: listed, added, given another role, removed.
extension IdentityHandler {
    func listMembers(_ request: IdentityV1.ListMembersRequest, context: ServerCallContext) async throws -> IdentityV1.ListMembersResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let requested = check.optionalUUID(request.organizationId, "organizationId")
        let statuses = check.knownList(request.statuses, "statuses").compactMap(MembershipStatus.init)
        let role = check.optionalUUID(request.roleId, "roleId.value")
        try check.finish()
        let page = try Keyset.parse(request.page)
        let organization = try await service.reachableOrganization(requested, caller: caller, on: service.pool)
        let filter = MembershipStore.Filter(
            organization: organization.id, statuses: statuses.isEmpty ? [.invited, .active, .suspended] : statuses, role: role
        )
        let rows = try await MembershipStore.list(filter, page: page, on: service.pool)
        let (kept, next) = page.page(rows) { ($0.0.createdAt, $0.0.id) }
        return IdentityV1.ListMembersResponse(
            members: kept.map { IdentityV1.Member(membership: $0.0.message, user: $0.1.message(seenThrough: $0.0.status)) }, page: next
        )
    }

    func addMember(_ request: IdentityV1.AddMemberRequest, context: ServerCallContext) async throws -> IdentityV1.AddMemberResponse {
        let caller = try context.requireCaller()
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
        return try await mutation(context, fingerprint: request) { work in
            let membership = try await service.addMember(reference, organization: organization, role: role, caller: caller, on: work)
            return IdentityV1.AddMemberResponse(membership: membership.message)
        }
    }

    func changeMemberRole(
        _ request: IdentityV1.ChangeMemberRoleRequest, context: ServerCallContext
    ) async throws -> IdentityV1.ChangeMemberRoleResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.membershipId, "membershipId")
        let role = check.uuid(request.roleId, "roleId")
        let expected = check.expectedVersion(request.expectedVersion)
        try check.finish()
        return try await mutation(context, fingerprint: request) { work in
            let membership = try await service.changeMemberRole(id, role: role, expectedVersion: expected, caller: caller, on: work)
            return IdentityV1.ChangeMemberRoleResponse(membership: membership.message)
        }
    }

    func removeMember(_ request: IdentityV1.RemoveMemberRequest, context: ServerCallContext) async throws -> IdentityV1.RemoveMemberResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.membershipId, "membershipId")
        let reason = check.optionalText(request.reason, "reason.value", maximumLength: 500)
        let expected = check.expectedVersion(request.expectedVersion)
        try check.finish()
        return try await mutation(context, fingerprint: request) { work in
            let membership = try await service.removeMember(id, reason: reason, expectedVersion: expected, caller: caller, on: work)
            return IdentityV1.RemoveMemberResponse(membership: membership.message)
        }
    }
}
