import Foundation
import KaroKarProto

/// What an access token says (a JWT's claims). It names a principal and an organization; it
/// grants nothing by itself: permissions are resolved on the server.
struct TokenClaims: Sendable, Hashable {
    enum Kind: String, Sendable, Hashable {
        case user
        case serviceAccount = "service_account"
    }

    var issuer: String
    var audience: String
    /// The user's or the service account's id.
    var subject: UUID
    var organization: UUID
    var kind: Kind
    /// Users: the membership the token was minted for.
    var membership: UUID?
    /// Users: the session (refresh-token family) it belongs to; ending the session ends the token.
    var session: UUID?
    /// Service accounts: the secret generation it was minted with (rotation ends older tokens).
    var secretGeneration: Int64?
    var issuedAt: Int64
    var notBefore: Int64
    var expiresAt: Int64
    var tokenID: String

    /// The instants a token may name (`exp`, `nbf`, `iat`, seconds since the epoch): 1970 to the
    /// end of 9999, like every other instant the service accepts. A claim outside them is not a
    /// claim this service writes, even under a valid signature, and arithmetic on it could overflow.
    static let instants: ClosedRange<Int64> = 0...253_402_300_799

    // MARK: - JSON

    var json: JSONValue {
        var members: [JSONMember] = [
            JSONMember("iss", .string(issuer)), JSONMember("aud", .string(audience)),
            JSONMember("sub", .string(subject.lowercasedString)), JSONMember("exp", .number(String(expiresAt))),
            JSONMember("nbf", .number(String(notBefore))), JSONMember("iat", .number(String(issuedAt))),
            JSONMember("jti", .string(tokenID)), JSONMember("org", .string(organization.lowercasedString)),
            JSONMember("knd", .string(kind.rawValue)),
        ]
        if let membership { members.append(JSONMember("mid", .string(membership.lowercasedString))) }
        if let session { members.append(JSONMember("sid", .string(session.lowercasedString))) }
        if let secretGeneration { members.append(JSONMember("sgen", .number(String(secretGeneration)))) }
        return .object(members)
    }

    /// Reads claims; nil when anything required is missing, repeated or of the wrong type.
    init?(json: JSONValue) {
        guard let members = json.objectMembers, Set(members.map(\.key)).count == members.count else { return nil }
        func string(_ key: String) -> String? {
            if case .string(let value)? = json[key] { return value }
            return nil
        }
        func integer(_ key: String) -> Int64? {
            if case .number(let text)? = json[key] { return Int64(text) }
            return nil
        }
        func instant(_ key: String) -> Int64? {
            integer(key).flatMap { Self.instants.contains($0) ? $0 : nil }
        }
        func uuid(_ key: String) -> UUID? {
            string(key).flatMap { text in UUID(hyphenated: text).flatMap { $0.lowercasedString == text ? $0 : nil } }
        }
        guard let issuer = string("iss"), let audience = Self.audience(json["aud"]), let subject = uuid("sub"),
              let organization = uuid("org"), let kind = string("knd").flatMap(Kind.init(rawValue:)),
              let expiresAt = instant("exp"), let notBefore = instant("nbf"), let issuedAt = instant("iat"),
              let tokenID = string("jti"), !tokenID.isEmpty
        else { return nil }
        let membership = uuid("mid")
        let session = uuid("sid")
        let generation = integer("sgen")
        switch kind {
        case .user: guard membership != nil, session != nil, json["sgen"] == nil else { return nil }
        case .serviceAccount: guard generation != nil, json["mid"] == nil, json["sid"] == nil else { return nil }
        }
        self.init(
            issuer: issuer, audience: audience, subject: subject, organization: organization, kind: kind, membership: membership,
            session: session, secretGeneration: generation, issuedAt: issuedAt, notBefore: notBefore, expiresAt: expiresAt, tokenID: tokenID
        )
    }

    init(
        issuer: String, audience: String, subject: UUID, organization: UUID, kind: Kind, membership: UUID?, session: UUID? = nil,
        secretGeneration: Int64?, issuedAt: Int64, notBefore: Int64, expiresAt: Int64, tokenID: String
    ) {
        self.issuer = issuer
        self.audience = audience
        self.subject = subject
        self.organization = organization
        self.kind = kind
        self.membership = membership
        self.session = session
        self.secretGeneration = secretGeneration
        self.issuedAt = issuedAt
        self.notBefore = notBefore
        self.expiresAt = expiresAt
        self.tokenID = tokenID
    }

    /// RFC 7519 allows one audience as a string or several as an array; ours issue one.
    private static func audience(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let single)?: return single
        case .array(let many)? where many.count == 1:
            if case .string(let single) = many[0] { return single }
            return nil
        default: return nil
        }
    }
}
