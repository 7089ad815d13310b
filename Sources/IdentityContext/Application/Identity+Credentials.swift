import Foundation
import KaroKarKernel

/// The calling user's own password.
extension Identity {
    /// Changes the calling user's password and ends every session of theirs (refresh tokens and
    /// the access tokens of each, the caller's own included: they sign in again with the new
    /// password). The current password is verified and the new one hashed inside the
    /// transaction, so that an idempotent retry answers before the old password is asked for
    /// again. A wrong current password counts as a failed login of the account from `client` (a
    /// stolen access token must not be a way to guess the password).
    nonisolated func changePassword(
        current: String, new: String, expectedVersion: Int64?, from client: ClientAddress, _ invocation: Invocation
    ) async throws -> UserRecord {
        let caller = try invocation.caller.authenticatedUser()
        do {
            return try await bus.mutation(invocation) { work in
                try await replacePassword(
                    of: caller.principalID, current: current, new: new, expectedVersion: expectedVersion, from: client, on: work
                )
            }
        } catch let wrong as IncorrectCurrentPassword {
            try await recordFailedLogin(wrong.account, from: client)
            throw PasswordChangeRefusal.incorrectCurrentPassword
        }
    }

    /// A wrong current password, with the account whose failure it is (rolled back with the
    /// change, then counted on its own).
    private struct IncorrectCurrentPassword: Error {
        let account: LoginAccount
    }

    private nonisolated func replacePassword(
        of id: UUID, current: String, new: String, expectedVersion: Int64?, from client: ClientAddress, on work: UnitOfWork
    ) async throws -> UserRecord {
        guard let (user, hash) = try await UserStore.credential(id: id, on: work) else { throw DomainError.notFound("user") }
        try ExpectedVersion.check(expectedVersion, user.version, "user")
        let account = LoginAccount(email: user.email)
        let standing = try await CredentialStore.standing(account, from: client, throttle: configuration.loginThrottle, on: work)
        guard !standing.locked else { throw PasswordChangeRefusal.incorrectCurrentPassword }  // refused without counting, as a login
        guard try await hasher.verify(current, against: hash) else { throw IncorrectCurrentPassword(account: account) }
        if let weakness = PasswordPolicy.weakness(of: new, email: user.email) { throw PasswordChangeRefusal.weakNewPassword(weakness) }
        let changed = try await UserStore.setPasswordHash(user.id, try await hasher.hash(new), bumpVersion: true, on: work)
        try await CredentialStore.revokeRefreshTokens(user: user.id, on: work)
        try await work.publish(IdentityEvents.userPasswordChanged(changed))
        try await accessChanged(.user(user.id), on: work)
        return changed
    }
}
