import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import NIOCore

/// Login, tokens, the caller's own account.
extension IdentityHandler {
    func login(_ request: IdentityV1.LoginRequest, context: ServerCallContext) async throws -> IdentityV1.LoginResponse {
        var check = Validation()
        let email = check.email(request.email, "email")
        let password = check.presentedSecret(request.password, "password")
        let organization = check.optionalUUID(request.organizationId, "organizationId")
        try check.finish()
        let grant = try await service.login(
            email: email, password: password, organization: organization, correlationID: EventOrigin(call: context).correlationID
        )
        return IdentityV1.LoginResponse(grant: grant.message, userId: grant.userID.lowercased, organizationId: grant.organizationID.lowercased)
    }

    func refreshToken(_ request: IdentityV1.RefreshTokenRequest, context: ServerCallContext) async throws -> IdentityV1.RefreshTokenResponse {
        var check = Validation()
        let token = check.presentedSecret(request.refreshToken, "refreshToken")
        try check.finish()
        return IdentityV1.RefreshTokenResponse(grant: try await service.refresh(token).message)
    }

    func logout(_ request: IdentityV1.LogoutRequest, context: ServerCallContext) async throws -> IdentityV1.LogoutResponse {
        var check = Validation()
        let token = check.presentedSecret(request.refreshToken, "refreshToken")
        try check.finish()
        try await service.logout(token, caller: try context.requireCaller())
        return IdentityV1.LogoutResponse()
    }

    /// Answered from what the interceptor resolved (cached): no database round trip.
    func whoAmI(_ request: IdentityV1.WhoAmIRequest, context: ServerCallContext) async throws -> IdentityV1.WhoAmIResponse {
        guard let authenticated = context.attributes[AuthenticatedKey.self] else { throw IdentityErrors.missingToken }
        var response = authenticated.principal.whoAmI
        response.tokenExpiresAt = CommonV1.Timestamp(seconds: authenticated.expiresAt, nanos: 0)
        return response
    }

    /// WhoAmI as served: the principal's answer, encoded once per load, with the token's expiry
    /// appended (its field is the message's last, so the bytes are what encoding the whole
    /// response gives; `WhoAmIEncodingTests` checks that). The cheapest authenticated read stays
    /// cheap: no message is built or encoded per call.
    func encodedWhoAmI(_ request: IdentityV1.WhoAmIRequest, context: ServerCallContext) throws -> ByteBuffer {
        guard let authenticated = context.attributes[AuthenticatedKey.self] else { throw IdentityErrors.missingToken }
        return authenticated.principal.encodedWhoAmI(tokenExpiresAt: authenticated.expiresAt, headroom: RPCRoute.responseHeadroom)
    }

    func listMyMemberships(
        _ request: IdentityV1.ListMyMembershipsRequest, context: ServerCallContext
    ) async throws -> IdentityV1.ListMyMembershipsResponse {
        let caller = try context.requireCaller()
        guard caller.kind == .user else { throw IdentityErrors.usersOnly }
        let page = try Keyset.parse(request.page, maximum: 200)
        let rows = try await MembershipStore.ofUserWithOrganizations(caller.principalID, page: page, on: service.pool)
        let (kept, next) = page.page(rows) { ($0.0.createdAt, $0.0.id) }
        return IdentityV1.ListMyMembershipsResponse(
            memberships: kept.map { IdentityV1.OrganizationMembership(membership: $0.0.message, organization: $0.1.message) }, page: next
        )
    }

    func changePassword(
        _ request: IdentityV1.ChangePasswordRequest, context: ServerCallContext
    ) async throws -> IdentityV1.ChangePasswordResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let current = check.presentedSecret(request.currentPassword, "currentPassword")
        let new = check.presentedSecret(request.newPassword, "newPassword")
        let expected = check.expectedVersion(request.expectedVersion)
        try check.finish()
        var fingerprint = request
        fingerprint.currentPassword = ""
        fingerprint.newPassword = ""
        do {
            return try await mutation(context, fingerprint: fingerprint) { work in
                let user = try await service.changePassword(current: current, new: new, expectedVersion: expected, caller: caller, on: work)
                return IdentityV1.ChangePasswordResponse(user: user.message)
            }
        } catch let wrong as WrongCurrentPassword {
            try await service.recordWrongPassword(wrong)
            throw RPCError.invalidArgument([.init(field: "currentPassword", code: "INCORRECT", description: "the current password is not correct")])
        }
    }
}
