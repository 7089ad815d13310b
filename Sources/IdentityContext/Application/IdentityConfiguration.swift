/// How the Identity context runs; the server fills it from its settings.
public struct IdentityConfiguration: Sendable {
    public var tokenAlgorithm: TokenAlgorithm = .hs256
    /// The configured signing key (HS256: the secret; EdDSA: the Ed25519 seed). nil in
    /// development: a key is generated on first start and kept in the database.
    public var tokenSigningKey: [UInt8]?
    public var tokenIssuer = "karokar"
    public var tokenAudience = "karokar-rpc"
    public var accessTokenLifetime: Duration = .seconds(900)
    public var refreshTokenLifetime: Duration = .seconds(30 * 86_400)
    /// log2 of scrypt's N for new password hashes (r = 8, p = 1).
    public var passwordHashLogN = ScryptParameters.recommended.logN
    /// Threads that hash passwords; more logins at once wait for one.
    public var passwordHashThreads = 2
    /// Hashes running or waiting at most (nil: 4 per thread); past it, RESOURCE_EXHAUSTED.
    public var passwordHashQueue: Int?
    public var loginThrottle = LoginThrottle()
    /// Per client address (the README, "Rationing").
    public var loginRate = RateLimit(perMinute: 30, burst: 20)
    public var registrationRate = RateLimit(perMinute: 1, burst: 5)
    public var tokenExchangeRate = RateLimit(perMinute: 60, burst: 30)
    /// Client addresses each limit remembers at most (its memory bound).
    public var rateLimitedAddresses = 100_000
    /// How long a resolved principal is trusted without asking the database again.
    public var principalCacheLifetime: Duration = .seconds(30)
    /// Production refuses to generate a signing key or a bootstrap password.
    public var productionMode = false
    public var bootstrap = Bootstrap()

    /// The platform organization and its first administrator, created on first start.
    public struct Bootstrap: Sendable {
        public var organizationName = "KaroKar"
        public var adminEmail = "admin@karokar.local"
        public var adminFirstName = "Platform"
        public var adminLastName = "Administrator"
        /// nil in development: a random one is generated and written to `generatedPasswordFile`.
        public var adminPassword: String?
        /// Where a generated password is written (mode 0600) for the developer to read.
        public var generatedPasswordFile = ".karokar/bootstrap-admin-password"

        public init() {}
    }

    public init() {}

    var hashingCapacity: Int {
        passwordHashQueue ?? 4 * max(passwordHashThreads, 1)
    }

    var scrypt: ScryptParameters {
        ScryptParameters(logN: passwordHashLogN, blockSize: 8, parallelism: 1)
    }
}
