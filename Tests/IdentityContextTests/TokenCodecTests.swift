import Crypto
import Foundation
@testable import IdentityContext
import KaroKarTestSupport
import Testing

/// The JWS codec as a pure value: what it signs verifies, and every way of bending a token fails.
@Suite("Identity: token codec")
struct TokenCodecTests {
    let now: Int64 = 1_900_000_000
    let hs256 = TokenCodec(key: try! TokenKey(algorithm: .hs256, material: TestIdentity.signingKey), issuer: "karokar", audience: "karokar-rpc")

    func claims(expires: Int64? = nil, notBefore: Int64? = nil) -> TokenClaims {
        TokenClaims(
            issuer: "karokar", audience: "karokar-rpc", subject: UUID(), organization: UUID(), kind: .user, membership: UUID(),
            session: UUID(), secretGeneration: nil, issuedAt: now, notBefore: notBefore ?? now, expiresAt: expires ?? now + 900, tokenID: "t-1"
        )
    }

    func rejection(_ token: String, codec: TokenCodec? = nil, at instant: Int64? = nil) -> TokenRejection? {
        do {
            _ = try (codec ?? hs256).verify(token, now: instant ?? now)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: TokenAlgorithm.allCases)
    func signedTokensVerify(_ algorithm: TokenAlgorithm) throws {
        let codec = TokenCodec(
            key: try TokenKey(algorithm: algorithm, material: TokenKey.generateMaterial(for: algorithm)), issuer: "karokar", audience: "karokar-rpc"
        )
        let original = claims()
        let token = try codec.encode(original)
        #expect(try codec.verify(token, now: now) == original)
        #expect(TestTokens.claims(of: token)["knd"] as? String == "user")
    }

    @Test func eachBentTokenIsRefusedForItsReason() throws {
        let token = try hs256.encode(claims())
        let parts = token.split(separator: ".").map(String.init)
        let otherKey = TokenCodec(key: try TokenKey(algorithm: .hs256, material: Array(repeating: 7, count: 32)), issuer: "karokar", audience: "karokar-rpc")
        #expect(rejection(try otherKey.encode(claims())) == .signature)
        var tampered = TestTokens.claims(of: token)
        tampered["org"] = UUID().uuidString.lowercased()
        #expect(rejection(parts[0] + "." + TestTokens.base64URL(TestTokens.json(tampered)) + "." + parts[2]) == .signature)
        let none = TestTokens.base64URL(TestTokens.json(["alg": "none", "typ": "JWT"]))
        #expect(rejection(none + "." + parts[1] + ".") == .algorithm)
        #expect(rejection(none + "." + parts[1] + "." + parts[2]) == .algorithm)
        let hs512 = TestTokens.base64URL(TestTokens.json(["alg": "HS512", "typ": "JWT"]))
        #expect(rejection(hs512 + "." + parts[1] + "." + parts[2]) == .algorithm)
        let edDSA = TestTokens.base64URL(TestTokens.json(["alg": "EdDSA"]))
        #expect(rejection(edDSA + "." + parts[1] + "." + parts[2]) == .algorithm, "no algorithm switching")
        #expect(rejection(try hs256.encode(claims(expires: now - 1))) == nil, "within the leeway")
        #expect(rejection(try hs256.encode(claims(expires: now - 60))) == .expired)
        #expect(rejection(try hs256.encode(claims(notBefore: now + 60))) == .notYetValid)
        var foreignIssuer = claims()
        foreignIssuer.issuer = "someone-else"
        #expect(rejection(try hs256.encode(foreignIssuer)) == .issuer)
        var foreignAudience = claims()
        foreignAudience.audience = "another-service"
        #expect(rejection(try hs256.encode(foreignAudience)) == .audience)
    }

    @Test func malformedTokensAreRefusedBeforeAnySignatureCheck() throws {
        let token = try hs256.encode(claims())
        let parts = token.split(separator: ".").map(String.init)
        for bad in ["", "a.b", "a.b.c.d", parts[0] + "=." + parts[1] + "." + parts[2], parts[0] + "." + parts[1] + "+." + parts[2],
                    String(repeating: "a", count: 5000), "...", "e30.e30.e30"] {
            #expect(rejection(bad) != nil, "\(bad.prefix(40))")
        }
        let critical = TestTokens.base64URL(TestTokens.json(["alg": "HS256", "crit": ["exp"]]))
        #expect(rejection(critical + "." + parts[1] + "." + parts[2]) == .malformed)
    }

    @Test func claimsWithMissingOrRepeatedFieldsAreRefused() throws {
        var claims = TestTokens.claims(of: try hs256.encode(claims()))
        claims.removeValue(forKey: "mid")
        #expect(rejection(TestTokens.token(header: TestTokens.hs256, claims: claims)) == .claims)
        claims["mid"] = "NOT-A-UUID"
        #expect(rejection(TestTokens.token(header: TestTokens.hs256, claims: claims)) == .claims)
        let header = TestTokens.base64URL(Array(#"{"alg":"HS256","alg":"none"}"#.utf8))
        let input = header + "." + TestTokens.base64URL(TestTokens.json(TestTokens.claims(of: try hs256.encode(self.claims()))))
        let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: TestIdentity.signingKey))
        #expect(rejection(input + "." + TestTokens.base64URL(mac)) == .malformed)
    }

    /// A bearer token is the first thing from a peer that the server parses (base64, then JSON,
    /// before the signature). 20,000 seeded mutations: of the token's text, and of its header's
    /// and claims' JSON, signed again with the real key so that the header and claims checks see
    /// hostile JSON too. Nothing traps; what is accepted reads back as the claims it encodes to.
    @Test func mutatedTokensNeverTrapAndWhatPassesIsConsistent() throws {
        let token = try hs256.encode(claims())
        let parts = token.split(separator: ".").map(String.init)
        let header = Base64URL.decode(Substring(parts[0]))!, payload = Base64URL.decode(Substring(parts[1]))!
        let key = SymmetricKey(data: TestIdentity.signingKey)
        let pieces: [[UInt8]] = [[0], [0x5C, 0x75, 0x30, 0x30, 0x30, 0x30], Array("{}[],:\"-1e999 null".utf8), [0xFF, 0xC3, 0xED, 0xA0, 0x80]]
        var random = SeededGenerator(seed: 16)
        func mutate(_ bytes: [UInt8]) -> [UInt8] {
            var bytes = bytes
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let at = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<5, using: &random) {
                case 0 where !bytes.isEmpty: bytes[at] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &random)
                case 1 where !bytes.isEmpty: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...8, using: &random)))
                case 2: bytes.insert(contentsOf: pieces.randomElement(using: &random)!, at: at)
                case 3 where !bytes.isEmpty: bytes[at] = UInt8.random(in: 0...255, using: &random)
                default: bytes += bytes.prefix(Int.random(in: 0...bytes.count, using: &random))
                }
            }
            return bytes
        }
        var accepted = 0
        var refused: [TokenRejection: Int] = [:]
        for round in 0..<20_000 {
            let candidate: String
            if round % 2 == 0 {
                candidate = String(decoding: mutate(Array(token.utf8)), as: UTF8.self)
            } else {
                let input = Base64URL.encode(round % 4 == 1 ? mutate(header) : header) + "." + Base64URL.encode(round % 4 == 3 ? mutate(payload) : payload)
                candidate = input + "." + Base64URL.encode(Array(HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: key)))
            }
            let verified: TokenClaims
            do {
                verified = try hs256.verify(candidate, now: now)
            } catch {
                refused[error, default: 0] += 1
                continue
            }
            accepted += 1
            #expect(try hs256.verify(hs256.encode(verified), now: now) == verified, "round \(round)")
        }
        // The mutations reach every stage: the syntax, the header, the signature and the claims.
        #expect(accepted < 20_000)
        for stage in [TokenRejection.malformed, .algorithm, .signature, .claims] {
            #expect(refused[stage, default: 0] > 100, "\(stage): \(refused)")
        }
    }

    @Test func base64URLHasOneSpellingPerValue() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let text = Base64URL.encode(bytes)
            #expect(Base64URL.decode(text) == bytes)
            #expect(text == TestTokens.base64URL(bytes))
        }
        #expect(Base64URL.decode("QQ") == [0x41])
        #expect(Base64URL.decode("QR") == nil, "non-zero unused bits")
        #expect(Base64URL.decode("QQ==") == nil, "padding")
        #expect(Base64URL.decode("a+b/") == nil, "the other alphabet")
        #expect(Base64URL.decode("Q") == nil)
    }
}
