import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC

/// Service accounts. A secret is shown once: an idempotent retry gets the account (and no second
/// one) but not the secret again.
extension IdentityHandler {
    func createServiceAccount(
        _ request: IdentityV1.CreateServiceAccountRequest, context: ServerCallContext
    ) async throws -> IdentityV1.CreateServiceAccountResponse {
        var check = Validation()
        let organization = check.optionalUUID(request.organizationId, "organizationId")
        let name = check.text(request.name, "name", maximumLength: 100)
        let description = check.optionalText(request.description, "description.value", maximumLength: 500)
        let permissions = check.permissions(request.permissions, "permissions")
        try check.finish()
        let draft = ServiceAccountDraft(name: name, description: description, permissions: permissions)
        let issued = try await identity.createServiceAccount(draft, organization: organization, Invocation(context, fingerprint: request))
        return IdentityV1.CreateServiceAccountResponse(serviceAccount: issued.account.message, secret: issued.secret ?? "")
    }

    func getServiceAccount(
        _ request: IdentityV1.GetServiceAccountRequest, context: ServerCallContext
    ) async throws -> IdentityV1.GetServiceAccountResponse {
        var check = Validation()
        let id = check.uuid(request.serviceAccountId, "serviceAccountId")
        try check.finish()
        let account = try await identity.serviceAccount(id, Invocation(context, fingerprint: request))
        return IdentityV1.GetServiceAccountResponse(serviceAccount: account.message)
    }

    func listServiceAccounts(
        _ request: IdentityV1.ListServiceAccountsRequest, context: ServerCallContext
    ) async throws -> IdentityV1.ListServiceAccountsResponse {
        var check = Validation()
        let organization = check.optionalUUID(request.organizationId, "organizationId")
        let statuses = check.knownList(request.statuses, "statuses").compactMap(ServiceAccountStatus.init)
        try check.finish()
        let page = try Page<TimeKey>(request.page, list: "identity.service_accounts", tokens: pages)
        let rows = try await identity.serviceAccounts(
            organization: organization, statuses: statuses, page: page, Invocation(context, fingerprint: request)
        )
        let (kept, next) = page.cut(rows) { TimeKey($0.createdAt, $0.id) }
        return IdentityV1.ListServiceAccountsResponse(serviceAccounts: kept.map(\.message), page: next)
    }

    func rotateServiceAccountSecret(
        _ request: IdentityV1.RotateServiceAccountSecretRequest, context: ServerCallContext
    ) async throws -> IdentityV1.RotateServiceAccountSecretResponse {
        var check = Validation()
        let id = check.uuid(request.serviceAccountId, "serviceAccountId")
        let expected = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let issued = try await identity.rotateSecret(id, expectedVersion: expected, Invocation(context, fingerprint: request))
        return IdentityV1.RotateServiceAccountSecretResponse(serviceAccount: issued.account.message, secret: issued.secret ?? "")
    }

    func revokeServiceAccount(
        _ request: IdentityV1.RevokeServiceAccountRequest, context: ServerCallContext
    ) async throws -> IdentityV1.RevokeServiceAccountResponse {
        var check = Validation()
        let id = check.uuid(request.serviceAccountId, "serviceAccountId")
        let reason = check.optionalText(request.reason, "reason.value", maximumLength: 500)
        let expected = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let account = try await identity.revokeServiceAccount(id, reason: reason, expectedVersion: expected, Invocation(context, fingerprint: request))
        return IdentityV1.RevokeServiceAccountResponse(serviceAccount: account.message)
    }

    func exchangeServiceAccountToken(
        _ request: IdentityV1.ExchangeServiceAccountTokenRequest, context: ServerCallContext
    ) async throws -> IdentityV1.ExchangeServiceAccountTokenResponse {
        var check = Validation()
        let id = check.uuid(request.serviceAccountId, "serviceAccountId")
        let secret = check.presentedSecret(request.secret, "secret")
        try check.finish()
        var fingerprint = request
        fingerprint.secret = ""
        let issued = try await identity.exchange(
            serviceAccount: id, secret: secret, from: ClientAddress(context), Invocation(context, fingerprint: fingerprint)
        )
        return IdentityV1.ExchangeServiceAccountTokenResponse(
            accessToken: issued.accessToken, accessTokenExpiresAt: CommonV1.Timestamp(seconds: issued.expiresAt, nanos: 0),
            organizationId: issued.organizationID.lowercasedString
        )
    }
}
