import Foundation
import KaroKarKernel

/// Service accounts. A secret is shown once: idempotency stores the account without it, so a
/// retry gets the account (and no second one) but not the secret again.
extension Identity {
    /// A new account in an organization the caller reaches, with permissions the caller holds
    /// and the organization type's roles grant.
    nonisolated func createServiceAccount(
        _ draft: ServiceAccountDraft, organization requested: UUID?, _ invocation: Invocation
    ) async throws -> IssuedSecret {
        let caller = try invocation.caller.authenticated()
        let secret = OpaqueSecret.generate()
        var shown: String?
        let account = try await bus.mutation(invocation) { work in
            let organization = try await reachableOrganization(requested, caller, on: work)
            let grantable = try await RoleStore.grantable(in: organization.kind, on: work)
            guard draft.permissions.isSubset(of: caller.permissions), draft.permissions.allSatisfy({ grantable.contains($0.rawValue) }) else {
                throw IdentityErrors.permissionNotHeld
            }
            let account = try await ServiceAccountStore.insert(
                draft, organization: organization.id, createdBy: caller.principalID, secret: secret, on: work
            )
            try await work.publish(IdentityEvents.serviceAccountCreated(account))
            shown = secret  // only when this call made it (not on a retry answered from the record)
            return account
        }
        return IssuedSecret(account: account, secret: shown)
    }

    nonisolated func serviceAccount(_ id: UUID, _ invocation: Invocation) async throws -> ServiceAccountRecord {
        let caller = try invocation.caller.authenticated()
        return try await bus.read(invocation) { work in
            guard let account = try await ServiceAccountStore.find(id, on: work), caller.reaches(account.organizationID) else {
                throw DomainError.notFound("service account")
            }
            return account
        }
    }

    nonisolated func serviceAccounts(
        organization requested: UUID?, statuses: [ServiceAccountStatus], page: Page<TimeKey>, _ invocation: Invocation
    ) async throws -> [ServiceAccountRecord] {
        try await readingOrganization(requested, invocation) { organization, work in
            try await ServiceAccountStore.list(organization: organization.id, statuses: statuses, after: page.after, limit: page.fetchLimit, on: work)
        }
    }

    /// A new secret; tokens of the old one stop working at once (the generation they carry).
    nonisolated func rotateSecret(_ id: UUID, expectedVersion: Int64?, _ invocation: Invocation) async throws -> IssuedSecret {
        let caller = try invocation.caller.authenticated()
        let secret = OpaqueSecret.generate()
        var shown: String?
        let account = try await bus.mutation(invocation) { work in
            _ = try await changeableAccount(id, expectedVersion: expectedVersion, caller, on: work)
            let account = try await ServiceAccountStore.rotate(id, secret: secret, on: work)
            try await work.publish(IdentityEvents.serviceAccountSecretRotated(account))
            try await accessChanged(.serviceAccount(id), on: work)
            shown = secret
            return account
        }
        return IssuedSecret(account: account, secret: shown)
    }

    /// Revocation is terminal; the account's tokens stop working at once.
    nonisolated func revokeServiceAccount(
        _ id: UUID, reason: String?, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> ServiceAccountRecord {
        let caller = try invocation.caller.authenticated()
        return try await bus.mutation(invocation) { work in
            _ = try await changeableAccount(id, expectedVersion: expectedVersion, caller, on: work)
            let account = try await ServiceAccountStore.revoke(id, on: work)
            try await work.publish(IdentityEvents.serviceAccountRevoked(account, reason: reason))
            try await accessChanged(.serviceAccount(id), on: work)
            return account
        }
    }

    /// An ACTIVE account of an organization the caller reaches, locked; NOT_FOUND otherwise.
    private nonisolated func changeableAccount(
        _ id: UUID, expectedVersion: Int64?, _ caller: Caller, on work: UnitOfWork
    ) async throws -> ServiceAccountRecord {
        guard let account = try await ServiceAccountStore.lock(id, on: work), caller.reaches(account.organizationID) else {
            throw DomainError.notFound("service account")
        }
        try ExpectedVersion.check(expectedVersion, account.version, "service account")
        guard account.status == .active else { throw IdentityErrors.serviceAccountRevoked }
        return account
    }
}
