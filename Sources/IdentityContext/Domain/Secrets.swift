import Crypto
import ExtrasBase64
import Foundation

/// Base64url without padding (RFC 7515's encoding for JWS), strict: only the URL-safe alphabet,
/// no padding, and only the canonical encoding of the bytes (so one token has one spelling).
enum Base64URL {
    private static let options: Base64.EncodingOptions = [.base64UrlAlphabet, .omitPaddingCharacter]

    static func encode(_ bytes: some Collection<UInt8>) -> String {
        Base64.encodeToString(bytes: bytes, options: options)
    }

    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        guard let bytes = try? Base64.decode(string: String(text), options: [.base64UrlAlphabet, .omitPaddingCharacter]) else {
            return nil
        }
        // Unused low bits must be zero: otherwise two spellings would decode alike.
        return encode(bytes).utf8.elementsEqual(text.utf8) ? bytes : nil
    }
}

/// Random opaque secrets (refresh tokens, service-account secrets) and how they are stored:
/// SHA-256 digests. A fast hash is enough for 256 random bits; slow hashes are for passwords.
enum OpaqueSecret {
    static let byteCount = 32

    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<byteCount).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// The stored form of a secret.
    static func digest(_ secret: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(secret.utf8)))
    }

    /// Whether `secret` looks like one of ours (before any database work).
    static func isWellFormed(_ secret: String) -> Bool {
        secret.utf8.count == 43 && Base64URL.decode(secret)?.count == byteCount
    }

    /// Random key material.
    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
