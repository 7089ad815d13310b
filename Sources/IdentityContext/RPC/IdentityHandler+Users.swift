import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC

/// Users: created in an organization, seen through memberships, disabled by the platform.
extension IdentityHandler {
    func createUser(_ request: IdentityV1.CreateUserRequest, context: ServerCallContext) async throws -> IdentityV1.CreateUserResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let organization = check.optionalUUID(request.organizationId, "organizationId")
        let firstName = check.personName(request.firstName, "firstName")
        let lastName = check.personName(request.lastName, "lastName")
        let email = check.email(request.email, "email")
        let phone = check.phone(request.phone, "phone")
        let password = check.password(request.password, "password", email: email)
        let role = check.uuid(request.roleId, "roleId")
        try check.finish()
        let user = NewUser(
            firstName: firstName, lastName: lastName, email: email, phone: phone, passwordHash: try await service.hasher.hash(password)
        )
        var fingerprint = request
        fingerprint.password = ""
        return try await mutation(context, fingerprint: fingerprint) { work in
            let (created, membership) = try await service.createUser(user, organization: organization, role: role, caller: caller, on: work)
            return IdentityV1.CreateUserResponse(user: created.message, membership: membership.message)
        }
    }

    /// One's own user always; anyone else's with member.read, if the caller's organization holds
    /// a live membership of theirs (platform administrators: anyone).
    func getUser(_ request: IdentityV1.GetUserRequest, context: ServerCallContext) async throws -> IdentityV1.GetUserResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.userId, "userId")
        try check.finish()
        let own = caller.kind == .user && caller.principalID == id
        guard own || caller.has(.memberRead) else {
            throw RPCError(.permissionDenied, "reading other users needs member.read", domainCode: "PERMISSION_DENIED")
        }
        guard let user = try await UserStore.find(id, on: service.pool) else { throw DomainError.notFound("user") }
        if own || caller.actsAcrossTenants { return IdentityV1.GetUserResponse(user: user.message) }
        guard let status = try await UserStore.membershipStatus(of: id, in: caller.organizationID, on: service.pool) else {
            throw DomainError.notFound("user")
        }
        return IdentityV1.GetUserResponse(user: user.message(seenThrough: status))
    }

    func listUsers(_ request: IdentityV1.ListUsersRequest, context: ServerCallContext) async throws -> IdentityV1.ListUsersResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let requested = check.optionalUUID(request.organizationId, "organizationId")
        let statuses = check.knownList(request.statuses, "statuses").compactMap(UserStatus.init)
        let query = check.optionalText(request.query, "query.value", maximumLength: 254)
        try check.finish()
        let page = try Keyset.parse(request.page)
        let organization = try await service.reachableOrganization(requested, caller: caller, on: service.pool)
        let rows = try await UserStore.list(
            UserStore.Filter(organization: organization.id, statuses: statuses, query: query), page: page, on: service.pool
        )
        let (kept, next) = page.page(rows) { ($0.memberSince, $0.membershipID) }
        return IdentityV1.ListUsersResponse(users: kept.map { $0.user.message(seenThrough: $0.membershipStatus) }, page: next)
    }

    /// Platform-wide, so platform administrators only (tenants remove members instead).
    func disableUser(_ request: IdentityV1.DisableUserRequest, context: ServerCallContext) async throws -> IdentityV1.DisableUserResponse {
        let caller = try context.requireCaller()
        guard caller.actsAcrossTenants else { throw IdentityErrors.platformOnly }
        var check = Validation()
        let id = check.uuid(request.userId, "userId")
        let reason = check.text(request.reason, "reason", maximumLength: 500)
        let expected = check.expectedVersion(request.expectedVersion)
        try check.finish()
        return try await mutation(context, fingerprint: request) { work in
            let user = try await service.disableUser(
                id, reason: reason, expectedVersion: expected, moderationAction: nil, actor: caller.principalID.lowercased, on: work
            )
            return IdentityV1.DisableUserResponse(user: user.message)
        }
    }
}
