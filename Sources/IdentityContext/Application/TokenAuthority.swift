import Foundation
import KaroKarKernel
import Synchronization

/// Issues and verifies access tokens. The key is installed at start (configured, or the
/// development key from the database); verifications are remembered per token string until the
/// token expires, so a call costs one dictionary lookup, not a signature check (EdDSA's is tens
/// of microseconds). The time checks run on every use, against the injected wall clock (tokens'
/// `iat`, `nbf` and `exp` are times of day, shared by every server process).
final class TokenAuthority: Sendable {
    private struct State {
        var codec: TokenCodec?
        var verified: [String: TokenClaims] = [:]
    }

    let accessTokenLifetime: Duration
    private let state = Mutex(State())
    /// Changes whenever a key is installed (what was verified before may no longer be).
    private let installed = Atomic<UInt64>(0)
    private let maximumRemembered = 50_000
    let clock: any WallClock

    init(accessTokenLifetime: Duration, clock: any WallClock) {
        self.accessTokenLifetime = accessTokenLifetime
        self.clock = clock
    }

    /// Seconds since the Unix epoch, as tokens count time.
    func now() -> Int64 {
        clock.now().seconds
    }

    func install(_ codec: TokenCodec) {
        state.withLock { state in
            state = State(codec: codec)
            installed.add(1, ordering: .releasing)
        }
    }

    /// When verified `claims` stay acceptable: the time checks of ``TokenCodec/check(_:now:)`` as
    /// a range of seconds; nil before a key is installed. For callers that remember a
    /// verification: it holds while ``installation`` is unchanged and the time is in the range.
    func window(of claims: TokenClaims) -> Range<Int64>? {
        state.withLock { state in
            guard let codec = state.codec else { return nil }
            let from = max(claims.notBefore, claims.issuedAt).addingClamped(-codec.leewaySeconds)
            let until = claims.expiresAt.addingClamped(codec.leewaySeconds)
            guard from < until else { return nil }
            return from..<until
        }
    }

    var installation: UInt64 { installed.load(ordering: .acquiring) }

    /// A signed access token for `kind`, and when it expires (seconds since the epoch). A user's
    /// names its membership and session, a service account's its secret generation.
    func issue(
        kind: TokenClaims.Kind, subject: UUID, organization: UUID, membership: UUID? = nil, session: UUID? = nil, secretGeneration: Int64? = nil
    ) throws -> (token: String, expiresAt: Int64) {
        guard let codec = state.withLock({ $0.codec }) else { throw IdentityErrors.starting }
        let issued = now()
        let expires = issued.addingClamped(accessTokenLifetime.components.seconds)
        let claims = TokenClaims(
            issuer: codec.issuer, audience: codec.audience, subject: subject, organization: organization, kind: kind,
            membership: membership, session: session, secretGeneration: secretGeneration, issuedAt: issued, notBefore: issued, expiresAt: expires,
            tokenID: UUID.random().lowercasedString
        )
        return (try codec.encode(claims), expires)
    }

    private enum Remembered {
        case valid(TokenClaims)
        case refused(TokenRejection)
        case unknown(TokenCodec)
    }

    /// The token's claims, or UNAUTHENTICATED.
    func verify(_ token: String) throws(DomainError) -> TokenClaims {
        let instant = now()
        let remembered = state.withLock { state -> Remembered? in
            guard let codec = state.codec else { return nil }
            guard let claims = state.verified[token] else { return .unknown(codec) }
            do throws(TokenRejection) {
                try codec.check(claims, now: instant)
                return .valid(claims)
            } catch {
                return .refused(error)
            }
        }
        switch remembered {
        case nil: throw IdentityErrors.starting
        case .valid(let claims): return claims
        case .refused(let rejection): throw Self.answer(rejection)
        case .unknown(let codec):
            do throws(TokenRejection) {
                let claims = try codec.verify(token, now: instant)
                remember(token, claims, now: instant)
                return claims
            } catch {
                throw Self.answer(error)
            }
        }
    }

    private static func answer(_ rejection: TokenRejection) -> DomainError {
        rejection == .expired ? IdentityErrors.expiredToken : IdentityErrors.invalidToken
    }

    private func remember(_ token: String, _ claims: TokenClaims, now instant: Int64) {
        state.withLock { state in
            if state.verified.count >= maximumRemembered {
                state.verified = state.verified.filter { $0.value.expiresAt > instant }
                if state.verified.count >= maximumRemembered { state.verified.removeAll() }
            }
            state.verified[token] = claims
        }
    }
}
