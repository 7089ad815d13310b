import Crypto
import Foundation
import KaroKarTestSupport

/// An independent JWT writer for the tests (not the server's codec): tokens as an attacker, a
/// confused client or a misconfigured peer would make them.
enum TestTokens {
    static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func json(_ object: [String: Any]) -> [UInt8] {
        Array(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    /// Header and payload encoded, signed with HMAC-SHA256 under `key` (nil: no signature part).
    static func token(header: [String: Any], claims: [String: Any], key: [UInt8]? = TestIdentity.signingKey) -> String {
        let input = base64URL(json(header)) + "." + base64URL(json(claims))
        guard let key else { return input + "." }
        let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: key))
        return input + "." + base64URL(mac)
    }

    /// Claims as the server writes them for a user's membership, valid now unless changed.
    static func userClaims(user: String, organization: String, membership: String, now: Int = Int(Date().timeIntervalSince1970)) -> [String: Any] {
        [
            "iss": TestIdentity.issuer, "aud": TestIdentity.audience, "sub": user, "org": organization, "mid": membership,
            "knd": "user", "iat": now, "nbf": now, "exp": now + 600, "jti": UUID().uuidString.lowercased(),
        ]
    }

    static var hs256: [String: Any] { ["alg": "HS256", "typ": "JWT"] }

    /// Base64url to padded standard base64.
    static func padded(_ part: String) -> String {
        var base64 = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return base64
    }

    /// The claims part of a token, decoded.
    static func claims(of token: String) -> [String: Any] {
        try! JSONSerialization.jsonObject(with: Data(base64Encoded: padded(String(token.split(separator: ".")[1])))!) as! [String: Any]
    }

    static func header(of token: String) -> [String: Any] {
        try! JSONSerialization.jsonObject(with: Data(base64Encoded: padded(String(token.split(separator: ".")[0])))!) as! [String: Any]
    }
}
