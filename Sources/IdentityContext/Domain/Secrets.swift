import Crypto
import Foundation

/// Base64url without padding (RFC 7515's encoding for JWS), strict: only the URL-safe alphabet,
/// no padding, and only the canonical encoding of the bytes (so one token has one spelling).
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    private static let values: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = Int8(index) }
        return table
    }()

    static func encode(_ bytes: some Collection<UInt8>) -> String {
        let input = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity((input.count * 4 + 2) / 3)
        var index = 0
        while index < input.count {
            let remaining = input.count - index
            let triple = UInt32(input[index]) << 16 | (remaining > 1 ? UInt32(input[index + 1]) << 8 : 0)
                | (remaining > 2 ? UInt32(input[index + 2]) : 0)
            out.append(alphabet[Int(triple >> 18 & 63)])
            out.append(alphabet[Int(triple >> 12 & 63)])
            if remaining > 1 { out.append(alphabet[Int(triple >> 6 & 63)]) }
            if remaining > 2 { out.append(alphabet[Int(triple & 63)]) }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count * 3 / 4)
        var index = 0
        while index < utf8.count {
            let end = min(index + 4, utf8.count)
            var triple: UInt32 = 0
            for (offset, byte) in utf8[index..<end].enumerated() {
                let value = values[Int(byte)]
                guard value >= 0 else { return nil }
                triple |= UInt32(value) << (18 - 6 * UInt32(offset))
            }
            let count = end - index
            out.append(UInt8(triple >> 16 & 0xFF))
            if count > 2 { out.append(UInt8(triple >> 8 & 0xFF)) }
            if count > 3 { out.append(UInt8(triple & 0xFF)) }
            index = end
        }
        // Unused low bits must be zero: otherwise two spellings would decode alike.
        guard encode(out).utf8.elementsEqual(utf8) else { return nil }
        return out
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
