import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC

/// The current password did not match; counted as a failed login after the unit of work rolls back.
struct WrongCurrentPassword: Error {
    let user: UUID
}

extension IdentityService {
    /// The caller's own password. Verification and hashing run inside the unit of work (so that an
    /// idempotent retry answers before the old password is asked for again).
    func changePassword(
        current: String, new: String, expectedVersion: Int64?, caller: Caller, on work: UnitOfWork
    ) async throws -> UserRecord {
        guard caller.kind == .user else { throw IdentityErrors.usersOnly }
        guard let (user, hash) = try await UserStore.credential(id: caller.principalID, on: work) else {
            throw DomainError.notFound("user")
        }
        try expectedVersion.check(against: user.version, "user")
        let locked = try await CredentialStore.isLocked(user.id, on: work)
        guard try await hasher.verify(current, against: hash), !locked else { throw WrongCurrentPassword(user: user.id) }
        if let weakness = PasswordPolicy.weakness(of: new, email: user.email) {
            throw RPCError.invalidArgument([.init(field: "newPassword", code: "WEAK_PASSWORD", description: "the new password \(weakness)")])
        }
        let changed = try await UserStore.setPasswordHash(user.id, try await hasher.hash(new), bumpVersion: true, on: work)
        try await CredentialStore.revokeRefreshTokens(user: user.id, on: work)
        try await work.publish(EventDraft(
            "user.password_changed", aggregateType: "user", aggregateID: user.id.lowercased, aggregateVersion: changed.version,
            payload: .userPasswordChanged(EventsV1.UserPasswordChanged(userId: user.id.lowercased))
        ))
        try await AccessChangeSignal.send(on: work)
        uncommitted(.user(user.id))
        return changed
    }

    /// Counts a wrong current password like a failed login (a stolen access token must not be a
    /// way to guess the password).
    nonisolated func recordWrongPassword(_ failure: WrongCurrentPassword) async throws {
        _ = try await bus.transaction(.system()) { work in
            try await CredentialStore.recordFailure(failure.user, throttle: configuration.loginThrottle, on: work)
        }
    }

    // MARK: - Service accounts

    func createServiceAccount(
        name: String, description: String?, permissions: Set<Permission>, organization requested: UUID?, caller: Caller,
        secret: String, on work: UnitOfWork
    ) async throws -> ServiceAccountRecord {
        let organization = try await reachableOrganization(requested, caller: caller, on: work)
        let grantable = try await RoleStore.grantable(in: organization.kind, on: work)
        guard permissions.isSubset(of: caller.permissions), permissions.allSatisfy({ grantable.contains($0.rawValue) }) else {
            throw IdentityErrors.permissionNotHeld
        }
        let account = try await ServiceAccountStore.insert(
            ServiceAccountRecord(
                id: UUID.random(), organizationID: organization.id, name: name, description: description,
                permissions: permissions.sorted().map(\.rawValue), status: .active, createdBy: caller.principalID, secretGeneration: 1,
                secretRotatedAt: .init(microseconds: 0), revokedAt: nil, version: 1, createdAt: .init(microseconds: 0), updatedAt: .init(microseconds: 0)
            ),
            secret: secret, on: work
        )
        try await work.publish(EventDraft(
            "service_account.created", aggregateType: "service_account", aggregateID: account.id.lowercased, aggregateVersion: account.version,
            payload: .serviceAccountCreated(EventsV1.ServiceAccountCreated(
                serviceAccountId: account.id.lowercased, organizationId: account.organizationID.lowercased, name: account.name,
                permissions: account.permissions
            ))
        ))
        return account
    }

    /// An ACTIVE account of an organization the caller reaches, locked; NOT_FOUND otherwise.
    private func changeableAccount(_ id: UUID, expectedVersion: Int64?, caller: Caller, on work: UnitOfWork) async throws -> ServiceAccountRecord {
        guard let account = try await ServiceAccountStore.lock(id, on: work), caller.reaches(account.organizationID) else {
            throw DomainError.notFound("service account")
        }
        try expectedVersion.check(against: account.version, "service account")
        guard account.status == .active else {
            throw DomainError.failedPrecondition("SERVICE_ACCOUNT_REVOKED", "the service account is revoked")
        }
        return account
    }

    func rotateSecret(_ id: UUID, secret: String, expectedVersion: Int64?, caller: Caller, on work: UnitOfWork) async throws -> ServiceAccountRecord {
        _ = try await changeableAccount(id, expectedVersion: expectedVersion, caller: caller, on: work)
        let account = try await ServiceAccountStore.rotate(id, secret: secret, on: work)
        try await work.publish(EventDraft(
            "service_account.secret_rotated", aggregateType: "service_account", aggregateID: id.lowercased, aggregateVersion: account.version,
            payload: .serviceAccountSecretRotated(EventsV1.ServiceAccountSecretRotated(
                serviceAccountId: id.lowercased, organizationId: account.organizationID.lowercased
            ))
        ))
        try await AccessChangeSignal.send(on: work)
        uncommitted(.serviceAccount(id))
        return account
    }

    func revokeServiceAccount(_ id: UUID, reason: String?, expectedVersion: Int64?, caller: Caller, on work: UnitOfWork) async throws -> ServiceAccountRecord {
        _ = try await changeableAccount(id, expectedVersion: expectedVersion, caller: caller, on: work)
        let account = try await ServiceAccountStore.revoke(id, on: work)
        try await work.publish(EventDraft(
            "service_account.revoked", aggregateType: "service_account", aggregateID: id.lowercased, aggregateVersion: account.version,
            payload: .serviceAccountRevoked(EventsV1.ServiceAccountRevoked(
                serviceAccountId: id.lowercased, organizationId: account.organizationID.lowercased,
                reason: reason.map { CommonV1.StringValue(value: $0) }
            ))
        ))
        try await AccessChangeSignal.send(on: work)
        uncommitted(.serviceAccount(id))
        return account
    }
}
