import Foundation
import IdentityContext
import ExtrasBase64

/// The Identity context's settings: tokens, passwords, login throttling, per-address rate limits
/// and the platform bootstrap. Secrets come from the environment or a file (`…-file`); error messages never echo them.
extension ServerSettings {
    static let identitySpecs: [SettingSpec] = [
        SettingSpec(name: "production-mode", help: "refuse to start without a configured signing key and bootstrap password (true or false)", defaultValue: "false"),
        SettingSpec(name: "token-algorithm", help: "access token signatures: HS256 or EdDSA", defaultValue: "HS256"),
        SettingSpec(name: "token-signing-key", help: "base64 key (HS256: 32+ bytes; EdDSA: the 32-byte Ed25519 seed); empty in development: generated and kept in the database", defaultValue: ""),
        SettingSpec(name: "token-signing-key-file", help: "file holding token-signing-key", defaultValue: ""),
        SettingSpec(name: "token-issuer", help: "the iss claim of access tokens", defaultValue: "karokar"),
        SettingSpec(name: "token-audience", help: "the aud claim of access tokens", defaultValue: "karokar-rpc"),
        SettingSpec(name: "access-token-ttl-seconds", help: "lifetime of access tokens", defaultValue: "900"),
        SettingSpec(name: "refresh-token-ttl-seconds", help: "lifetime of refresh tokens", defaultValue: "2592000"),
        SettingSpec(name: "password-hash-cost", help: "log2 of scrypt's N for new password hashes (15 or more in production)", defaultValue: "17"),
        SettingSpec(name: "password-hash-threads", help: "threads that hash passwords", defaultValue: "2"),
        SettingSpec(name: "password-hash-queue", help: "password hashes running or waiting at most, past which logins and registrations are refused (RESOURCE_EXHAUSTED); 0 = 4 per hashing thread", defaultValue: "0"),
        SettingSpec(name: "login-max-failures", help: "failed logins of one account from one client address before that address is locked out of it", defaultValue: "5"),
        SettingSpec(name: "login-lock-seconds", help: "first lock of an account for an address after too many failed logins; doubles with each further failure, up to an hour", defaultValue: "30"),
        SettingSpec(name: "login-slowdown-failures", help: "failed logins of one account from all addresses within 15 minutes past which every attempt at it waits (0 = never)", defaultValue: "20"),
        SettingSpec(name: "login-slowdown-ms", help: "that wait, for each login-slowdown-failures failures (at most 5 times)", defaultValue: "1000"),
        SettingSpec(name: "login-rate-per-minute", help: "Login calls per client address a minute, after the burst (0 = no limit)", defaultValue: "30"),
        SettingSpec(name: "login-burst", help: "Login calls a client address may make at once", defaultValue: "20"),
        SettingSpec(name: "register-rate-per-minute", help: "RegisterOrganization calls per client address a minute, after the burst (0 = no limit)", defaultValue: "1"),
        SettingSpec(name: "register-burst", help: "RegisterOrganization calls a client address may make at once", defaultValue: "5"),
        SettingSpec(name: "token-exchange-rate-per-minute", help: "ExchangeServiceAccountToken calls per client address a minute, after the burst (0 = no limit)", defaultValue: "60"),
        SettingSpec(name: "token-exchange-burst", help: "ExchangeServiceAccountToken calls a client address may make at once", defaultValue: "30"),
        SettingSpec(name: "rate-limit-addresses", help: "client addresses each per-address limit remembers at most (its memory bound)", defaultValue: "100000"),
        SettingSpec(name: "access-cache-ttl-ms", help: "how long resolved permissions are trusted without asking the database", defaultValue: "30000"),
        SettingSpec(name: "bootstrap-organization-name", help: "name of the platform organization created on first start", defaultValue: "KaroKar"),
        SettingSpec(name: "bootstrap-admin-email", help: "e-mail of the first platform administrator", defaultValue: "admin@karokar.local"),
        SettingSpec(name: "bootstrap-admin-password", help: "their password (use the environment or the -file variant); empty in development: generated into data-dir", defaultValue: ""),
        SettingSpec(name: "bootstrap-admin-password-file", help: "file holding bootstrap-admin-password", defaultValue: ""),
    ]

    /// `X-file` settings are read into `X` (trailing newline removed); setting both is an error.
    static func readSecretFiles(_ values: inout [String: (value: String, source: String)], readFile: (String) throws -> [UInt8]) throws {
        for target in [
            "token-signing-key", "bootstrap-admin-password", "verification-http-provider-secret", "notification-smtp-password",
            "notification-sms-secret", "notification-push-secret", "tls-key-passphrase", "database-password",
        ] {
            guard let file = values.removeValue(forKey: target + "-file"), !file.value.isEmpty else { continue }
            guard values[target] == nil else {
                throw Invalid(description: "\(file.source): set \(target) or \(target)-file, not both")
            }
            let bytes: [UInt8]
            do {
                bytes = try readFile(file.value)
            } catch {
                throw Invalid(description: "\(file.source): cannot read \(file.value)")
            }
            let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .newlines)
            values[target] = (text, "\(file.value) (\(file.source))")
        }
    }

    mutating func applyIdentity(_ name: String, _ value: String, source: String) throws {
        func integer(_ range: ClosedRange<Int>) throws -> Int {
            guard let number = Int(value), range.contains(number) else {
                throw Invalid(description: "\(source): \"\(value)\" is not an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return number
        }
        func text(_ maximum: Int = 200) throws -> String {
            guard !value.isEmpty, value.count <= maximum else { throw Invalid(description: "\(source): must be 1 to \(maximum) characters") }
            return value
        }
        switch name {
        case "production-mode":
            guard value == "true" || value == "false" else { throw Invalid(description: "\(source): expected true or false") }
            identity.productionMode = value == "true"
        case "token-algorithm":
            guard let algorithm = TokenAlgorithm(rawValue: value) else { throw Invalid(description: "\(source): expected HS256 or EdDSA") }
            identity.tokenAlgorithm = algorithm
        case "token-signing-key":
            let key = try? Base64.decode(string: value)
            guard value.isEmpty || key != nil else { throw Invalid(description: "\(source): the key must be base64") }
            identity.tokenSigningKey = value.isEmpty ? nil : key
        case "token-issuer": identity.tokenIssuer = try text()
        case "token-audience": identity.tokenAudience = try text()
        case "access-token-ttl-seconds": identity.accessTokenLifetime = .seconds(try integer(60...86_400))
        case "refresh-token-ttl-seconds": identity.refreshTokenLifetime = .seconds(try integer(300...31_536_000))
        case "password-hash-cost": identity.passwordHashLogN = try integer(12...20)
        case "password-hash-threads": identity.passwordHashThreads = try integer(1...64)
        case "password-hash-queue":
            let queue = try integer(0...100_000)
            identity.passwordHashQueue = queue == 0 ? nil : queue
        case "login-max-failures": identity.loginThrottle.freeFailures = try integer(1...100)
        case "login-lock-seconds": identity.loginThrottle.baseLock = .seconds(try integer(1...86_400))
        case "login-slowdown-failures": identity.loginThrottle.slowDownAfter = try integer(0...1_000_000)
        case "login-slowdown-ms": identity.loginThrottle.slowDownStep = .milliseconds(try integer(1...60_000))
        case "login-rate-per-minute": identity.loginRate.perMinute = try integer(0...1_000_000)
        case "login-burst": identity.loginRate.burst = try integer(1...1_000_000)
        case "register-rate-per-minute": identity.registrationRate.perMinute = try integer(0...1_000_000)
        case "register-burst": identity.registrationRate.burst = try integer(1...1_000_000)
        case "token-exchange-rate-per-minute": identity.tokenExchangeRate.perMinute = try integer(0...1_000_000)
        case "token-exchange-burst": identity.tokenExchangeRate.burst = try integer(1...1_000_000)
        case "rate-limit-addresses": identity.rateLimitedAddresses = try integer(100...10_000_000)
        case "access-cache-ttl-ms": identity.principalCacheLifetime = .milliseconds(try integer(100...300_000))
        case "bootstrap-organization-name": identity.bootstrap.organizationName = try text()
        case "bootstrap-admin-email":
            guard value.contains("@"), value.count <= 254 else { throw Invalid(description: "\(source): not an e-mail address") }
            identity.bootstrap.adminEmail = value.lowercased()
        case "bootstrap-admin-password": identity.bootstrap.adminPassword = value.isEmpty ? nil : value
        default: throw Invalid(description: "\(source): unknown setting \(name)")
        }
    }

    /// Checks what depends on several settings; production mode refuses development shortcuts.
    mutating func checkProductionRequirements() throws {
        identity.bootstrap.generatedPasswordFile = dataDirectory + "/bootstrap-admin-password"
        if let key = identity.tokenSigningKey {
            switch identity.tokenAlgorithm {
            case .hs256 where key.count < 32: throw Invalid(description: "token-signing-key: an HS256 key needs at least 32 bytes")
            case .edDSA where key.count != 32: throw Invalid(description: "token-signing-key: an EdDSA key is a 32-byte Ed25519 seed")
            default: break
            }
        }
        guard identity.productionMode else { return }
        guard identity.tokenSigningKey != nil else {
            throw Invalid(description: "production-mode needs token-signing-key (KAROKAR_TOKEN_SIGNING_KEY or token-signing-key-file)")
        }
        guard identity.bootstrap.adminPassword != nil else {
            throw Invalid(description: "production-mode needs bootstrap-admin-password (KAROKAR_BOOTSTRAP_ADMIN_PASSWORD or bootstrap-admin-password-file)")
        }
        guard identity.passwordHashLogN >= 15 else { throw Invalid(description: "production-mode needs password-hash-cost of 15 or more") }
    }
}
