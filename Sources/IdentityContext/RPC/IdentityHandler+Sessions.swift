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
        let password = check.presentedPassword(request.password, "password")
        let organization = check.optionalUUID(request.organizationId, "organizationId")
        try check.finish()
        var fingerprint = request
        fingerprint.password = ""
        let grant = try await identity.login(
            email: email, password: password, organization: organization, from: ClientAddress(context), Invocation(context, fingerprint: fingerprint)
        )
        return IdentityV1.LoginResponse(
            grant: grant.message, userId: grant.userID.lowercasedString, organizationId: grant.organizationID.lowercasedString
        )
    }

    func refreshToken(_ request: IdentityV1.RefreshTokenRequest, context: ServerCallContext) async throws -> IdentityV1.RefreshTokenResponse {
        var check = Validation()
        let token = check.presentedSecret(request.refreshToken, "refreshToken")
        try check.finish()
        let grant = try await identity.refresh(token, Invocation(context, fingerprint: IdentityV1.RefreshTokenRequest()))
        return IdentityV1.RefreshTokenResponse(grant: grant.message)
    }

    func logout(_ request: IdentityV1.LogoutRequest, context: ServerCallContext) async throws -> IdentityV1.LogoutResponse {
        var check = Validation()
        let token = check.presentedSecret(request.refreshToken, "refreshToken")
        try check.finish()
        try await identity.logout(token, Invocation(context, fingerprint: IdentityV1.LogoutRequest()))
        return IdentityV1.LogoutResponse()
    }

    /// Answered from what the interceptor verified: no database round trip. (The served route is
    /// ``encodedWhoAmI(_:context:)``; this is the same answer as a message.)
    func whoAmI(_ request: IdentityV1.WhoAmIRequest, context: ServerCallContext) async throws -> IdentityV1.WhoAmIResponse {
        guard let answer = context.attributes[WhoAmIAnswerKey.self] else { throw IdentityErrors.missingToken.rpcError }
        return answer.response
    }

    /// WhoAmI as served: the bytes the caller's credential encoded once when it was verified (a
    /// connection that presents one token pays nothing per call): no message is built or
    /// encoded per call, the cheapest authenticated read stays cheap.
    func encodedWhoAmI(_ request: IdentityV1.WhoAmIRequest, context: ServerCallContext) throws -> ByteBuffer {
        guard let answer = context.attributes[WhoAmIAnswerKey.self] else { throw IdentityErrors.missingToken.rpcError }
        return answer.encoded
    }

    func listMyMemberships(
        _ request: IdentityV1.ListMyMembershipsRequest, context: ServerCallContext
    ) async throws -> IdentityV1.ListMyMembershipsResponse {
        let page = try Page<TimeKey>(request.page, list: "identity.my_memberships", tokens: pages, maximum: 200)
        let rows = try await identity.myMemberships(page: page, Invocation(context, fingerprint: request))
        let (kept, next) = page.cut(rows) { TimeKey($0.membership.createdAt, $0.membership.id) }
        return IdentityV1.ListMyMembershipsResponse(
            memberships: kept.map { IdentityV1.OrganizationMembership(membership: $0.membership.message, organization: $0.organization.message) },
            page: next
        )
    }

    func changePassword(
        _ request: IdentityV1.ChangePasswordRequest, context: ServerCallContext
    ) async throws -> IdentityV1.ChangePasswordResponse {
        var check = Validation()
        let current = check.presentedPassword(request.currentPassword, "currentPassword")
        let new = check.presentedSecret(request.newPassword, "newPassword")
        let expected = check.expectedVersion(request.expectedVersion)
        try check.finish()
        var fingerprint = request
        fingerprint.currentPassword = ""
        fingerprint.newPassword = ""
        do {
            let user = try await identity.changePassword(
                current: current, new: new, expectedVersion: expected, from: ClientAddress(context), Invocation(context, fingerprint: fingerprint)
            )
            return IdentityV1.ChangePasswordResponse(user: user.message)
        } catch let refusal as PasswordChangeRefusal {
            throw refusal.answer
        }
    }
}

extension PasswordChangeRefusal {
    /// The field violation the caller gets.
    var answer: RPCError {
        switch self {
        case .incorrectCurrentPassword:
            RPCError.invalidArgument([.init(field: "currentPassword", code: "INCORRECT", description: "the current password is not correct")])
        case .weakNewPassword(let weakness):
            RPCError.invalidArgument([.init(field: "newPassword", code: "WEAK_PASSWORD", description: "the new password \(weakness)")])
        }
    }
}
