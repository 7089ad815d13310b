import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC

/// Users: created in an organization, seen through memberships, disabled by the platform.
extension IdentityHandler {
    func createUser(_ request: IdentityV1.CreateUserRequest, context: ServerCallContext) async throws -> IdentityV1.CreateUserResponse {
        var check = Validation()
        let organization = check.optionalUUID(request.organizationId, "organizationId")
        let profile = check.profile(firstName: request.firstName, lastName: request.lastName, email: request.email, phone: request.phone)
        let password = check.password(request.password, "password", email: profile.email)
        let role = check.uuid(request.roleId, "roleId")
        try check.finish()
        var fingerprint = request
        fingerprint.password = ""
        let created = try await identity.createUser(
            profile, password: password, organization: organization, role: role, Invocation(context, fingerprint: fingerprint)
        )
        return IdentityV1.CreateUserResponse(user: created.user.message, membership: created.membership.message)
    }

    /// One's own user always; anyone else's with member.read, as the caller's organization sees them.
    func getUser(_ request: IdentityV1.GetUserRequest, context: ServerCallContext) async throws -> IdentityV1.GetUserResponse {
        var check = Validation()
        let id = check.uuid(request.userId, "userId")
        try check.finish()
        let user = try await identity.user(id, Invocation(context, fingerprint: request))
        return IdentityV1.GetUserResponse(user: user.message)
    }

    func listUsers(_ request: IdentityV1.ListUsersRequest, context: ServerCallContext) async throws -> IdentityV1.ListUsersResponse {
        var check = Validation()
        let organization = check.optionalUUID(request.organizationId, "organizationId")
        var filter = UserFilter()
        filter.statuses = check.knownList(request.statuses, "statuses").compactMap(UserStatus.init)
        filter.query = check.optionalText(request.query, "query.value", maximumLength: 254)
        try check.finish()
        let page = try Page<TimeKey>(request.page, list: "identity.users", tokens: pages)
        let rows = try await identity.users(filter, organization: organization, page: page, Invocation(context, fingerprint: request))
        let (kept, next) = page.cut(rows) { TimeKey($0.memberSince, $0.membershipID) }
        return IdentityV1.ListUsersResponse(users: kept.map(\.user.message), page: next)
    }

    /// Platform-wide, so platform administrators only (tenants remove members instead): refused
    /// before the request is even validated.
    func disableUser(_ request: IdentityV1.DisableUserRequest, context: ServerCallContext) async throws -> IdentityV1.DisableUserResponse {
        try PlatformOnly.check(context.caller ?? .anonymous)
        var check = Validation()
        let id = check.uuid(request.userId, "userId")
        let reason = check.text(request.reason, "reason", maximumLength: 500)
        let expected = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let user = try await identity.disableUser(id, reason: reason, expectedVersion: expected, Invocation(context, fingerprint: request))
        return IdentityV1.DisableUserResponse(user: user.message)
    }
}
