import Foundation
public import KaroKarServer

/// What every test server knows about identity: a fixed signing key (so tests can mint their own
/// tokens, forged ones included), the platform administrator's credentials, and a cheap password
/// hash cost (the lowest the settings allow: tests create many users; the cost is a setting, the
/// algorithm is the production one).
public enum TestIdentity {
    /// 32 bytes, HS256.
    public static let signingKey: [UInt8] = Array("karokar-tests-hs256-signing-key-0123456789".utf8)
    public static let issuer = "karokar"
    public static let audience = "karokar-rpc"
    public static let adminEmail = "platform-admin@karokar.test"
    public static let adminPassword = "platform admin passphrase 42"

    public static func configure(_ settings: inout ServerSettings) {
        settings.identity.tokenSigningKey = signingKey
        settings.identity.passwordHashLogN = 12
        settings.identity.bootstrap.adminEmail = adminEmail
        settings.identity.bootstrap.adminPassword = adminPassword
        // Tests sign in over and over from one address (127.0.0.1), some of them many at once:
        // the per-address limits are off and the hashing queue is deep, but in the tests of them,
        // which set their own.
        settings.identity.passwordHashQueue = 64
        settings.identity.loginRate.perMinute = 0
        settings.identity.registrationRate.perMinute = 0
        settings.identity.tokenExchangeRate.perMinute = 0
    }

    /// The same, as the environment of a `karokar-server` process.
    public static let environment: [String: String] = [
        "KAROKAR_TOKEN_SIGNING_KEY": Data(signingKey).base64EncodedString(), "KAROKAR_BOOTSTRAP_ADMIN_EMAIL": adminEmail,
        "KAROKAR_BOOTSTRAP_ADMIN_PASSWORD": adminPassword, "KAROKAR_PASSWORD_HASH_COST": "12",
        "KAROKAR_PASSWORD_HASH_QUEUE": "64", "KAROKAR_LOGIN_RATE_PER_MINUTE": "0", "KAROKAR_REGISTER_RATE_PER_MINUTE": "0", "KAROKAR_TOKEN_EXCHANGE_RATE_PER_MINUTE": "0",
    ]
}
