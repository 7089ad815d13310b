import Foundation
import KaroKarRPC
import Synchronization

/// Issues and verifies access tokens. The key is installed at start (configured, or the
/// development key from the database); verifications are remembered per token string until the
/// token expires, so a call costs one dictionary lookup, not a signature check (EdDSA's is tens
/// of microseconds). The time checks run on every use.
final class TokenAuthority: Sendable {
    let accessTokenLifetime: Duration
    private let codec = Mutex<TokenCodec?>(nil)
    private let verified = Mutex<[String: TokenClaims]>([:])
    private let maximumRemembered = 50_000
    /// Seconds since the Unix epoch.
    let now: @Sendable () -> Int64

    init(accessTokenLifetime: Duration, now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) {
        self.accessTokenLifetime = accessTokenLifetime
        self.now = now
    }

    func install(_ codec: TokenCodec) {
        self.codec.withLock { $0 = codec }
        verified.withLock { $0.removeAll() }
    }

    private func current() throws(RPCError) -> TokenCodec {
        guard let codec = codec.withLock({ $0 }) else {
            throw RPCError(.unavailable, "the server is starting; try again", domainCode: "STARTING")
        }
        return codec
    }

    /// A signed access token for `kind`, and when it expires (seconds since the epoch).
    func issue(
        kind: TokenClaims.Kind, subject: UUID, organization: UUID, membership: UUID? = nil, secretGeneration: Int64? = nil
    ) throws -> (token: String, expiresAt: Int64) {
        let codec = try current()
        let issued = now()
        let expires = issued + accessTokenLifetime.components.seconds
        let claims = TokenClaims(
            issuer: codec.issuer, audience: codec.audience, subject: subject, organization: organization, kind: kind,
            membership: membership, secretGeneration: secretGeneration, issuedAt: issued, notBefore: issued, expiresAt: expires,
            tokenID: UUID().uuidString.lowercased()
        )
        return (try codec.encode(claims), expires)
    }

    /// The token's claims, or UNAUTHENTICATED.
    func verify(_ token: String) throws(RPCError) -> TokenClaims {
        let codec = try current()
        let instant = now()
        do throws(TokenRejection) {
            if let claims = verified.withLock({ $0[token] }) {
                try codec.check(claims, now: instant)
                return claims
            }
            let claims = try codec.verify(token, now: instant)
            remember(token, claims)
            return claims
        } catch {
            throw error == .expired ? IdentityErrors.expiredToken : IdentityErrors.invalidToken
        }
    }

    private func remember(_ token: String, _ claims: TokenClaims) {
        verified.withLock { remembered in
            if remembered.count >= maximumRemembered {
                let instant = now()
                remembered = remembered.filter { $0.value.expiresAt > instant }
                if remembered.count >= maximumRemembered { remembered.removeAll() }
            }
            remembered[token] = claims
        }
    }
}
