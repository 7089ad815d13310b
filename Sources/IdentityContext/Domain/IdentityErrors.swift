import KaroKarKernel
import KaroKarRPC

/// The Identity context's business failures, each with its stable domain code.
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

    /// One answer for every failed login (unknown e-mail, wrong password, locked, disabled, no
    /// such membership), so that a login reveals nothing about the account.
    static let invalidCredentials = RPCError(.unauthenticated, "the e-mail, password or organization is not valid", domainCode: "INVALID_CREDENTIALS")
    static let invalidRefreshToken = RPCError(.unauthenticated, "the refresh token is not valid", domainCode: "INVALID_CREDENTIALS")
    static let invalidServiceAccountSecret = RPCError(
        .unauthenticated, "the service account id or secret is not valid", domainCode: "INVALID_CREDENTIALS"
    )
    static let invalidToken = RPCError(.unauthenticated, "the access token is not valid", domainCode: "INVALID_TOKEN")
    static let expiredToken = RPCError(.unauthenticated, "the access token has expired", domainCode: "TOKEN_EXPIRED")
    static let revokedToken = RPCError(
        .unauthenticated, "the access token's membership, user or service account is no longer active", domainCode: "TOKEN_REVOKED"
    )
    static let missingToken = RPCError(.unauthenticated, "this method needs an access token (authorization: Bearer <token>)", domainCode: "MISSING_TOKEN")
}
