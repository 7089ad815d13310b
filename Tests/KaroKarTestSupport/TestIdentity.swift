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
    }
}
