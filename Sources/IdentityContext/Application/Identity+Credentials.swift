import Foundation
import KaroKarKernel

/// The calling user's own password.
extension Identity {
    /// Changes the calling user's password and ends every session of theirs (refresh tokens and
    /// the access tokens of each, the caller's own included: they sign in again with the new
    /// password). The current password is verified and the new one hashed inside the
    /// transaction, so that an idempotent retry answers before the old password is asked for
    /// again. A wrong current password counts as a
    /// failed login (a stolen access token must not be a way to guess the password).
    nonisolated func changePassword(
        current: String, new: String, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> UserRecord {
        let caller = try invocation.caller.authenticatedUser()
        do {
            return try await bus.mutation(invocation) { work in
                try await replacePassword(of: caller.principalID, current: current, new: new, expectedVersion: expectedVersion, on: work)
            }
        } catch PasswordChangeRefusal.incorrectCurrentPassword {
            try await recordFailedLogin(caller.principalID)
            throw PasswordChangeRefusal.incorrectCurrentPassword
        }
    }

    private nonisolated func replacePassword(
        of id: UUID, current: String, new: String, expectedVersion: Int64?, on work: UnitOfWork
    ) async throws -> UserRecord {
        guard let (user, hash) = try await UserStore.credential(id: id, on: work) else { throw DomainError.notFound("user") }
        try ExpectedVersion.check(expectedVersion, user.version, "user")
        let locked = try await CredentialStore.isLocked(user.id, on: work)
        guard try await hasher.verify(current, against: hash), !locked else { throw PasswordChangeRefusal.incorrectCurrentPassword }
        if let weakness = PasswordPolicy.weakness(of: new, email: user.email) { throw PasswordChangeRefusal.weakNewPassword(weakness) }
        let changed = try await UserStore.setPasswordHash(user.id, try await hasher.hash(new), bumpVersion: true, on: work)
        try await CredentialStore.revokeRefreshTokens(user: user.id, on: work)
        try await work.publish(IdentityEvents.userPasswordChanged(changed))
        try await accessChanged(.user(user.id), on: work)
        return changed
    }
}
