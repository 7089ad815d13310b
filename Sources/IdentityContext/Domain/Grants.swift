import Foundation
import KaroKarKernel

/// Tokens handed out by Login and RefreshToken.
struct IssuedGrant: Sendable, Hashable {
    var accessToken: String
    /// The access token's `exp`, seconds since the epoch.
    var accessTokenExpiresAt: Int64
    var refreshToken: String
    var refreshTokenExpiresAt: Instant
    var userID: UUID
    var organizationID: UUID
}

/// An access token for a service account (ExchangeServiceAccountToken).
struct ExchangedToken: Sendable, Hashable {
    var accessToken: String
    /// The token's `exp`, seconds since the epoch.
    var expiresAt: Int64
    var organizationID: UUID
}

/// A service account and its new secret, shown once: nil when an idempotent retry answered
/// (the stored result never holds the secret, so a retry gets the account but not the secret).
struct IssuedSecret: Sendable, Hashable {
    var account: ServiceAccountRecord
    var secret: String?
}
