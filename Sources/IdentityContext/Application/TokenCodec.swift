import Crypto
import Foundation
import KaroKarProto

/// The JWS algorithms this service signs with: one is configured, and a token whose header names
/// anything else (`none`, `HS512`, the other one) is refused.
public enum TokenAlgorithm: String, Sendable, Hashable, CaseIterable {
    /// HMAC-SHA256 with a shared secret of at least 32 bytes.
    case hs256 = "HS256"
    /// Ed25519 signatures (RFC 8037); the key material is the 32-byte private key seed.
    case edDSA = "EdDSA"
}

/// A signing key with its algorithm.
struct TokenKey: Sendable {
    let algorithm: TokenAlgorithm
    private let hmacKey: SymmetricKey?
    private let privateKey: Curve25519.Signing.PrivateKey?
    private let publicKey: Curve25519.Signing.PublicKey?

    struct InvalidMaterial: Error, CustomStringConvertible {
        let description: String
    }

    init(algorithm: TokenAlgorithm, material: [UInt8]) throws(InvalidMaterial) {
        self.algorithm = algorithm
        switch algorithm {
        case .hs256:
            guard material.count >= 32 else { throw InvalidMaterial(description: "an HS256 key needs at least 32 bytes, got \(material.count)") }
            hmacKey = SymmetricKey(data: material)
            privateKey = nil
            publicKey = nil
        case .edDSA:
            guard material.count == 32, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: material) else {
                throw InvalidMaterial(description: "an EdDSA key is a 32-byte Ed25519 private key seed, got \(material.count) bytes")
            }
            hmacKey = nil
            privateKey = key
            publicKey = key.publicKey
        }
    }

    /// Fresh key material for `algorithm` (development: no key configured).
    static func generateMaterial(for algorithm: TokenAlgorithm) -> [UInt8] {
        switch algorithm {
        case .hs256: OpaqueSecret.randomBytes(32)
        case .edDSA: Array(Curve25519.Signing.PrivateKey().rawRepresentation)
        }
    }

    func sign(_ input: [UInt8]) throws -> [UInt8] {
        if let hmacKey { return Array(HMAC<SHA256>.authenticationCode(for: input, using: hmacKey)) }
        return Array(try privateKey!.signature(for: input))
    }

    func isValid(signature: [UInt8], for input: [UInt8]) -> Bool {
        if let hmacKey { return HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: input, using: hmacKey) }
        return publicKey!.isValidSignature(signature, for: input)
    }
}

/// Why a token was refused (for logs; callers get one UNAUTHENTICATED answer).
enum TokenRejection: Error, Hashable, Sendable {
    case malformed
    case algorithm
    case signature
    case claims
    case issuer
    case audience
    case expired
    case notYetValid
}

/// Compact JWS (RFC 7515) with JWT claims (RFC 7519), encoded and verified here: the header's
/// `alg` must be exactly the key's algorithm, the signature must verify, and `iss`, `aud`, `exp`
/// and `nbf` must hold.
struct TokenCodec: Sendable {
    let key: TokenKey
    let issuer: String
    let audience: String
    /// Tolerated clock difference between server processes, for `exp` and `nbf`.
    var leewaySeconds: Int64 = 5
    static let maximumTokenBytes = 4096

    func encode(_ claims: TokenClaims) throws -> String {
        let header = JSONValue.object([JSONMember("alg", .string(key.algorithm.rawValue)), JSONMember("typ", .string("JWT"))])
        let signingInput = Base64URL.encode(Array(header.jsonText.utf8)) + "." + Base64URL.encode(Array(claims.json.jsonText.utf8))
        return signingInput + "." + Base64URL.encode(try key.sign(Array(signingInput.utf8)))
    }

    func verify(_ token: String, now: Int64) throws(TokenRejection) -> TokenClaims {
        let utf8 = token.utf8
        guard utf8.count <= Self.maximumTokenBytes else { throw .malformed }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(parts[0]), let payloadBytes = Base64URL.decode(parts[1]),
              let signature = Base64URL.decode(parts[2]),
              let header = try? JSONParser.parse(headerBytes), let payload = try? JSONParser.parse(payloadBytes)
        else { throw .malformed }
        try checkHeader(header)
        let signingInput = Array(utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard key.isValid(signature: signature, for: signingInput) else { throw .signature }
        guard let claims = TokenClaims(json: payload) else { throw .claims }
        try check(claims, now: now)
        return claims
    }

    private func checkHeader(_ header: JSONValue) throws(TokenRejection) {
        guard let members = header.objectMembers, Set(members.map(\.key)).count == members.count else { throw .malformed }
        guard case .string(let algorithm)? = header["alg"], algorithm == key.algorithm.rawValue else { throw .algorithm }
        if let type = header["typ"], type != .string("JWT") { throw .malformed }
        // Extensions we do not understand must not be ignored (RFC 7515 section 4.1.11).
        guard header["crit"] == nil else { throw .malformed }
    }

    /// The time checks, also run on every use of a cached verification. Total for any `Int64`s
    /// (``TokenClaims`` keeps its instants in ``TokenClaims/instants``, but the clock is injected).
    func check(_ claims: TokenClaims, now: Int64) throws(TokenRejection) {
        guard claims.issuer == issuer else { throw .issuer }
        guard claims.audience == audience else { throw .audience }
        guard now < claims.expiresAt.addingClamped(leewaySeconds) else { throw .expired }
        let latestStart = now.addingClamped(leewaySeconds)
        guard claims.notBefore <= latestStart, claims.issuedAt <= latestStart else { throw .notYetValid }
    }
}

extension Int64 {
    /// `self + other`, or the nearest bound when that does not fit: token instants and the
    /// clock's come from outside, and an overflow trap would end the process.
    func addingClamped(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other < 0 ? .min : .max) : sum
    }
}
