import Foundation
import KaroKarKernel

/// How a token names its principal, and whether a principal is still the one it was minted for.
enum TokenPrincipal {
    /// The cache entry the token's principal lives in.
    static func key(_ claims: TokenClaims) -> PrincipalKey {
        claims.kind == .user ? .membership(claims.membership!) : .serviceAccount(claims.subject)
    }

    /// `principal`, if it is the one the token was minted for; UNAUTHENTICATED (`TOKEN_REVOKED`)
    /// when it is gone (nil: not an active principal) or another, or the token's session ended.
    static func checked(_ principal: Principal?, _ claims: TokenClaims) throws(DomainError) -> Principal {
        guard let principal, matches(principal, claims) else { throw IdentityErrors.revokedToken }
        return principal
    }

    static func matches(_ principal: Principal, _ claims: TokenClaims) -> Bool {
        guard principal.organization.id == claims.organization else { return false }
        if let account = principal.serviceAccount {
            return claims.kind == .serviceAccount && account.id == claims.subject && account.secretGeneration == claims.secretGeneration
        }
        guard claims.kind == .user, principal.user?.id == claims.subject, principal.membership?.id == claims.membership,
              let session = claims.session
        else { return false }
        return !principal.revokedSessions.contains(session)
    }
}

extension PrincipalCache {
    /// The principal `claims` name, from the cache, else from `load` (stored unless something was
    /// invalidated meanwhile); UNAUTHENTICATED when it is gone or no longer the one the token
    /// was minted for.
    func resolve(_ claims: TokenClaims, load: (PrincipalKey) async throws -> Principal?) async throws -> Principal {
        let key = TokenPrincipal.key(claims)
        switch lookup(key) {
        case .hit(let cached):
            return try TokenPrincipal.checked(cached, claims)
        case .miss(let generation):
            let loaded = try await load(key)
            store(key, loaded, loadedAt: generation)
            return try TokenPrincipal.checked(loaded, claims)
        }
    }
}

extension Identity {
    /// The authorization interceptor's use case for a token whose principal is not at hand: from
    /// the cache, or read from the database (a few reads on the pool, no transaction: a cache
    /// fill, as cheap as it can be) and cached. A membership's principal knows the sessions ended
    /// within an access token's lifetime (and a minute for clocks that differ): older ones'
    /// tokens have expired.
    nonisolated func principal(for claims: TokenClaims) async throws -> Principal {
        let sessionsEndedWithin = configuration.accessTokenLifetime + .seconds(60)
        return try await cache.resolve(claims) { key in
            let loaded: Principal? = switch key {
            case .membership(let id): try await PrincipalStore.membership(id, sessionsEndedWithin: sessionsEndedWithin, on: environment.pool)
            case .serviceAccount(let id): try await PrincipalStore.serviceAccount(id, on: environment.pool)
            }
            return loaded.flatMap { $0.isActive ? $0 : nil }
        }
    }
}
