import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC

/// Service accounts. A secret is shown once: the idempotency record keeps the response without
/// it, so an idempotent retry gets the account (and no second one) but not the secret again.
extension IdentityHandler {
    func createServiceAccount(
        _ request: IdentityV1.CreateServiceAccountRequest, context: ServerCallContext
    ) async throws -> IdentityV1.CreateServiceAccountResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let organization = check.optionalUUID(request.organizationId, "organizationId")
        let name = check.text(request.name, "name", maximumLength: 100)
        let description = check.optionalText(request.description, "description.value", maximumLength: 500)
        let permissions = check.permissions(request.permissions, "permissions")
        try check.finish()
        let secret = OpaqueSecret.generate()
        var shown: String?
        var response = try await mutation(context, fingerprint: request) { work in
            let account = try await service.createServiceAccount(
                name: name, description: description, permissions: permissions, organization: organization, caller: caller,
                secret: secret, on: work
            )
            shown = secret
            return IdentityV1.CreateServiceAccountResponse(serviceAccount: account.message)
        }
        response.secret = shown ?? ""
        return response
    }

    func getServiceAccount(
        _ request: IdentityV1.GetServiceAccountRequest, context: ServerCallContext
    ) async throws -> IdentityV1.GetServiceAccountResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.serviceAccountId, "serviceAccountId")
        try check.finish()
        guard let account = try await ServiceAccountStore.find(id, on: service.pool), caller.reaches(account.organizationID) else {
            throw DomainError.notFound("service account")
        }
        return IdentityV1.GetServiceAccountResponse(serviceAccount: account.message)
    }

    func listServiceAccounts(
        _ request: IdentityV1.ListServiceAccountsRequest, context: ServerCallContext
    ) async throws -> IdentityV1.ListServiceAccountsResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let requested = check.optionalUUID(request.organizationId, "organizationId")
        let statuses = check.knownList(request.statuses, "statuses").compactMap(ServiceAccountStatus.init)
        try check.finish()
        let page = try Keyset.parse(request.page)
        let organization = try await service.reachableOrganization(requested, caller: caller, on: service.pool)
        let rows = try await ServiceAccountStore.list(organization: organization.id, statuses: statuses, page: page, on: service.pool)
        let (kept, next) = page.page(rows) { ($0.createdAt, $0.id) }
        return IdentityV1.ListServiceAccountsResponse(serviceAccounts: kept.map(\.message), page: next)
    }

    func rotateServiceAccountSecret(
        _ request: IdentityV1.RotateServiceAccountSecretRequest, context: ServerCallContext
    ) async throws -> IdentityV1.RotateServiceAccountSecretResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.serviceAccountId, "serviceAccountId")
        let expected = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let secret = OpaqueSecret.generate()
        var shown: String?
        var response = try await mutation(context, fingerprint: request) { work in
            let account = try await service.rotateSecret(id, secret: secret, expectedVersion: expected, caller: caller, on: work)
            shown = secret
            return IdentityV1.RotateServiceAccountSecretResponse(serviceAccount: account.message)
        }
        response.secret = shown ?? ""
        return response
    }

    func revokeServiceAccount(
        _ request: IdentityV1.RevokeServiceAccountRequest, context: ServerCallContext
    ) async throws -> IdentityV1.RevokeServiceAccountResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.serviceAccountId, "serviceAccountId")
        let reason = check.optionalText(request.reason, "reason.value", maximumLength: 500)
        let expected = check.expectedVersion(request.expectedVersion)
        try check.finish()
        return try await mutation(context, fingerprint: request) { work in
            let account = try await service.revokeServiceAccount(id, reason: reason, expectedVersion: expected, caller: caller, on: work)
            return IdentityV1.RevokeServiceAccountResponse(serviceAccount: account.message)
        }
    }

    func exchangeServiceAccountToken(
        _ request: IdentityV1.ExchangeServiceAccountTokenRequest, context: ServerCallContext
    ) async throws -> IdentityV1.ExchangeServiceAccountTokenResponse {
        var check = Validation()
        let id = check.uuid(request.serviceAccountId, "serviceAccountId")
        let secret = check.presentedSecret(request.secret, "secret")
        try check.finish()
        let issued = try await service.exchange(serviceAccount: id, secret: secret)
        return IdentityV1.ExchangeServiceAccountTokenResponse(
            accessToken: issued.token, accessTokenExpiresAt: CommonV1.Timestamp(seconds: issued.expiresAt, nanos: 0),
            organizationId: issued.organization.lowercased
        )
    }
}
