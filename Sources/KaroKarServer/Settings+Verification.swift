import Foundation
import VerificationContext

/// The Verification context's settings: the expiry sweep and the one HTTP provider a server can
/// be configured with (Sources/VerificationContext/README.md, "The HTTP provider").
extension ServerSettings {
    static let verificationSpecs: [SettingSpec] = [
        SettingSpec(name: "verification-expiry-sweep-interval-s", help: "seconds between verification expiry sweeps (0 = never; RunVerificationExpirySweep still runs one)", defaultValue: "3600"),
        SettingSpec(name: "verification-http-provider-name", help: "name of the external HTTP verification provider (empty = none)", defaultValue: ""),
        SettingSpec(name: "verification-http-provider-url", help: "its endpoint: an http:// or https:// URL that takes the JSON POST", defaultValue: ""),
        SettingSpec(name: "verification-http-provider-types", help: "comma-separated verification types it checks", defaultValue: "VEHICLE_REGISTRATION,INSURANCE,FITNESS_CERTIFICATE"),
        SettingSpec(name: "verification-http-provider-auth", help: "how requests are authenticated: bearer, hmac (x-karokar-signature) or none", defaultValue: "bearer"),
        SettingSpec(name: "verification-http-provider-secret", help: "the bearer token or HMAC secret (use the environment or the -file variant)", defaultValue: ""),
        SettingSpec(name: "verification-http-provider-secret-file", help: "file holding verification-http-provider-secret", defaultValue: ""),
        SettingSpec(name: "verification-http-provider-timeout-ms", help: "one attempt's time limit", defaultValue: "5000"),
        SettingSpec(name: "verification-http-provider-attempts", help: "attempts per check, retried with exponential backoff", defaultValue: "3"),
        SettingSpec(name: "verification-http-provider-retry-delay-ms", help: "backoff before the second attempt (doubles, at most 5 s)", defaultValue: "200"),
    ]

    /// Applies a `verification-*` setting; false for other names.
    mutating func applyVerification(_ name: String, _ value: String, source: String) throws -> Bool {
        func integer(_ range: ClosedRange<Int>) throws -> Int {
            guard let number = Int(value), range.contains(number) else {
                throw Invalid(description: "\(source): \"\(value)\" is not an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return number
        }
        guard name.hasPrefix("verification-") else { return false }
        if name == "verification-expiry-sweep-interval-s" {
            let seconds = try integer(0...31_536_000)
            verification.expirySweepInterval = seconds == 0 ? nil : .seconds(seconds)
            return true
        }
        var provider = verification.httpProviders.first ?? HTTPProviderConfiguration(name: "", url: "")
        // Settings are applied in name order: `-auth` before `-secret`, so the secret fills the
        // chosen authentication (bearer by default).
        if verification.httpProviders.isEmpty { provider.authentication = .bearer("") }
        switch name {
        case "verification-http-provider-name":
            guard value.range(of: "^[a-z][a-z0-9_-]{0,99}$", options: .regularExpression) != nil || value.isEmpty else {
                throw Invalid(description: "\(source): a provider name is lower-case letters, digits, - and _ (at most 100)")
            }
            provider.name = value
        case "verification-http-provider-url":
            guard let url = URL(string: value), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw Invalid(description: "\(source): expected an http:// or https:// URL")
            }
            provider.url = value
        case "verification-http-provider-types":
            let types = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard !types.isEmpty, types.allSatisfy(HTTPProviderConfiguration.typeNames.contains) else {
                throw Invalid(description: "\(source): expected verification types among \(HTTPProviderConfiguration.typeNames.joined(separator: ", "))")
            }
            provider.types = types
        case "verification-http-provider-auth":
            let secret = provider.authentication.secret
            switch value {
            case "bearer": provider.authentication = .bearer(secret)
            case "hmac": provider.authentication = .hmac(secret)
            case "none": provider.authentication = .none
            default: throw Invalid(description: "\(source): expected bearer, hmac or none")
            }
        case "verification-http-provider-secret":
            switch provider.authentication {
            case .none: break
            case .bearer: provider.authentication = .bearer(value)
            case .hmac: provider.authentication = .hmac(value)
            }
        case "verification-http-provider-timeout-ms": provider.timeout = .milliseconds(try integer(10...60_000))
        case "verification-http-provider-attempts": provider.attempts = try integer(1...10)
        case "verification-http-provider-retry-delay-ms": provider.firstRetryDelay = .milliseconds(try integer(0...5000))
        default: return false
        }
        verification.httpProviders = [provider]
        return true
    }

    /// A configured provider has a name, a URL, its secret, and fits in a provider worker's lease.
    func checkVerificationProvider() throws {
        guard let provider = verification.httpProviders.first else { return }
        guard !provider.name.isEmpty, !provider.url.isEmpty else {
            throw Invalid(description: "verification-http-provider-name and verification-http-provider-url are both needed for an HTTP provider")
        }
        switch provider.authentication {
        case .bearer(let secret), .hmac(let secret):
            guard !secret.isEmpty else {
                throw Invalid(description: "verification-http-provider-secret is needed (or verification-http-provider-auth=none)")
            }
        case .none: break
        }
        guard provider.worstCase <= .seconds(20) else {
            throw Invalid(description: "verification-http-provider-timeout-ms × attempts, with the backoff, must stay within 20 s (a provider worker's lease is 60 s)")
        }
    }
}

extension HTTPProviderConfiguration.Authentication {
    var secret: String {
        switch self {
        case .none: ""
        case .bearer(let secret), .hmac(let secret): secret
        }
    }
}
