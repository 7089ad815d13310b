import KaroKarKernel

/// The Identity context's business failures, each with its wire status and stable domain code.
enum IdentityErrors {
    static let duplicateEmail = DomainError.alreadyExists("DUPLICATE_EMAIL", "a user with this e-mail address already exists")
    static let duplicateMembership = DomainError.alreadyExists("DUPLICATE_MEMBERSHIP", "the user already is a member of this organization")
    static let duplicateServiceAccount = DomainError.alreadyExists(
        "DUPLICATE_SERVICE_ACCOUNT", "an active service account with this name already exists in the organization"
    )
    static let roleMismatch = DomainError.failedPrecondition(
        "ROLE_ORGANIZATION_TYPE_MISMATCH", "the role is for organizations of another type"
    )
    static let lastAdministrator = DomainError.failedPrecondition(
        "LAST_ADMINISTRATOR", "the organization must keep at least one active administrator"
    )
    static let organizationRequired = DomainError.failedPrecondition(
        "ORGANIZATION_REQUIRED", "the user is a member of several organizations; name one"
    )
    static let platformOnly = DomainError.permissionDenied("only platform administrators may do this")
    static let usersOnly = DomainError.failedPrecondition("USER_PRINCIPAL_REQUIRED", "only users (not service accounts) may do this")
    static let permissionNotHeld = DomainError.permissionDenied("a service account can only be granted permissions the caller holds")
    static let otherUsersNeedMemberRead = DomainError.permissionDenied("reading other users needs member.read")
    static let otherTypesRoles = DomainError.permissionDenied("only platform administrators list other organization types' roles")
    static let cannotDisableSelf = DomainError.failedPrecondition("CANNOT_DISABLE_SELF", "administrators cannot disable their own user")
    static let serviceAccountRevoked = DomainError.failedPrecondition("SERVICE_ACCOUNT_REVOKED", "the service account is revoked")
    static let userAlreadyDisabled = DomainError.failedPrecondition("USER_ALREADY_DISABLED", "the user is already disabled")

    /// One answer for every failed login (unknown e-mail, wrong password, locked, disabled, no
    /// such membership), so that a login reveals nothing about the account.
    static let invalidCredentials = DomainError(.unauthenticated, "INVALID_CREDENTIALS", "the e-mail, password or organization is not valid")
    static let invalidRefreshToken = DomainError(.unauthenticated, "INVALID_CREDENTIALS", "the refresh token is not valid")
    static let invalidServiceAccountSecret = DomainError(
        .unauthenticated, "INVALID_CREDENTIALS", "the service account id or secret is not valid"
    )
    static let invalidToken = DomainError(.unauthenticated, "INVALID_TOKEN", "the access token is not valid")
    static let expiredToken = DomainError(.unauthenticated, "TOKEN_EXPIRED", "the access token has expired")
    static let revokedToken = DomainError(
        .unauthenticated, "TOKEN_REVOKED", "the access token's session ended, or its membership, user or service account is no longer active"
    )
    static let missingToken = DomainError(.unauthenticated, "MISSING_TOKEN", "this method needs an access token (authorization: Bearer <token>)")
    /// Too many calls of one kind from the caller's address (``ClientRateLimiter``).
    static func rateLimited(_ message: String, retryAfter: Duration) -> DomainError {
        DomainError(.resourceExhausted, "RATE_LIMITED", message, retryAfter: retryAfter)
    }

    /// The password-hashing queue is full (``PasswordHasher``): nothing was checked or changed.
    static func hashingBusy(retryAfter: Duration) -> DomainError {
        DomainError(.resourceExhausted, "PASSWORD_HASHING_BUSY", "the server is checking too many passwords; retry later", retryAfter: retryAfter)
    }

    /// Before a signing key is installed (the server answers no call then, but tokens are
    /// checked by whatever asks).
    static let starting = DomainError(.unavailable, "STARTING", "the server is starting; try again")
}

/// Why ChangePassword refused the new password; the RPC edge answers each as a field violation.
enum PasswordChangeRefusal: Error, Hashable {
    /// The current password did not match (counted as a failed login).
    case incorrectCurrentPassword
    /// The new password breaks the policy (``PasswordPolicy``): why.
    case weakNewPassword(String)
}

extension Caller {
    /// This caller, unless it is ``Caller/anonymous`` (UNAUTHENTICATED): for use cases of methods
    /// that are never public (the interceptor refuses such calls first; this is defence in depth).
    func authenticated() throws(DomainError) -> Caller {
        guard kind != .anonymous else { throw IdentityErrors.missingToken }
        return self
    }

    /// This caller, if it is a user (not a service account): their own password, sessions,
    /// memberships.
    func authenticatedUser() throws(DomainError) -> Caller {
        guard try authenticated().kind == .user else { throw IdentityErrors.usersOnly }
        return self
    }
}

/// Platform-wide verbs (DisableUser): platform administrators only, acting for the platform.
enum PlatformOnly {
    static func check(_ caller: Caller) throws(DomainError) {
        guard try caller.authenticated().actsAcrossTenants else { throw IdentityErrors.platformOnly }
    }
}
