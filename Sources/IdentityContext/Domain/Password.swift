import Crypto
import CryptoExtras
import Foundation

/// The password policy (decided; the context's README): 12 to 128 characters, at least 5
/// different ones, and not containing the e-mail's local part. Length matters more than
/// character classes (NIST SP 800-63B); the upper bound keeps hashing bounded. Characters are
/// Unicode scalars, as in every length rule of the service (Protos/PROTOCOL.md, section 17).
enum PasswordPolicy {
    static let minimumLength = 12
    static let maximumLength = 128

    /// Why `password` is refused, or nil.
    static func weakness(of password: String, email: String) -> String? {
        let scalars = password.unicodeScalars
        if scalars.count < minimumLength { return "must be at least \(minimumLength) characters" }
        if scalars.count > maximumLength { return "must be at most \(maximumLength) characters" }
        if Set(scalars).count < 5 { return "must use at least 5 different characters" }
        let local = email.split(separator: "@").first.map { String($0).lowercased() } ?? ""
        if local.count >= 4, password.lowercased().contains(local) { return "must not contain the e-mail address" }
        return nil
    }
}

/// scrypt's cost parameters, stored with every hash so they can be raised later (a hash made
/// with weaker ones still verifies, and is replaced at the next successful login).
struct ScryptParameters: Sendable, Hashable {
    /// log2 of N, the CPU/memory cost (memory is 128 * r * N bytes).
    var logN: Int
    var blockSize: Int
    var parallelism: Int

    /// OWASP's recommendation: N = 2^17, r = 8, p = 1 (128 MiB, about 0.2 s on one core).
    static let recommended = ScryptParameters(logN: 17, blockSize: 8, parallelism: 1)
    static let allowedLogN = 10...20
}

/// A password credential: `$scrypt$ln=17,r=8,p=1$<salt>$<key>` (the PHC string format, base64
/// without padding). Never leaves the Identity context.
struct PasswordHash: Sendable, Hashable {
    let parameters: ScryptParameters
    let salt: [UInt8]
    let key: [UInt8]

    static let keyLength = 32
    static let saltLength = 16

    /// Hashes `password` with a fresh random salt. CPU-heavy: call it on a thread of its own
    /// (``PasswordHasher``), never on an event loop or in the cooperative pool.
    static func make(_ password: String, parameters: ScryptParameters) throws -> PasswordHash {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<saltLength).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return PasswordHash(parameters: parameters, salt: salt, key: try derive(password, salt: salt, parameters: parameters))
    }

    /// Whether `password` matches, comparing in constant time. CPU-heavy, like ``make(_:parameters:)``.
    func matches(_ password: String) throws -> Bool {
        let candidate = try Self.derive(password, salt: salt, parameters: parameters)
        return candidate.count == key.count && zip(candidate, key).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    static func derive(_ password: String, salt: [UInt8], parameters: ScryptParameters) throws -> [UInt8] {
        let key = try KDF.Scrypt.deriveKey(
            from: Array(password.utf8), salt: salt, outputByteCount: keyLength, rounds: 1 << parameters.logN,
            blockSize: parameters.blockSize, parallelism: parameters.parallelism
        )
        return key.withUnsafeBytes { Array($0) }
    }

    // MARK: - Stored form

    var encoded: String {
        "$scrypt$ln=\(parameters.logN),r=\(parameters.blockSize),p=\(parameters.parallelism)$"
            + Base64URL.encode(salt) + "$" + Base64URL.encode(key)
    }

    /// nil for anything this code did not write.
    init?(encoded: String) {
        let parts = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "scrypt" else { return nil }
        var values: [String: Int] = [:]
        for pair in parts[2].split(separator: ",") {
            let kv = pair.split(separator: "=")
            guard kv.count == 2, let number = Int(kv[1]) else { return nil }
            values[String(kv[0])] = number
        }
        guard let logN = values["ln"], ScryptParameters.allowedLogN.contains(logN), let r = values["r"], (1...32).contains(r),
              let p = values["p"], (1...16).contains(p),
              let salt = Base64URL.decode(String(parts[3])), let key = Base64URL.decode(String(parts[4])), key.count == Self.keyLength
        else { return nil }
        self.init(parameters: ScryptParameters(logN: logN, blockSize: r, parallelism: p), salt: salt, key: key)
    }

    init(parameters: ScryptParameters, salt: [UInt8], key: [UInt8]) {
        self.parameters = parameters
        self.salt = salt
        self.key = key
    }
}
