import Foundation
import KaroKarKernel
import KaroKarPostgres
public import KaroKarRPC
public import NIOCore

/// What the interceptor learned about an authenticated call, for Identity's own handlers
/// (WhoAmI answers from it without a database round trip).
struct Authenticated: Sendable {
    let principal: Principal
    let claims: TokenClaims
}

enum AuthenticatedKey: CallAttributeKey {
    typealias Value = Authenticated
}

/// Authentication and authorization for every call (issue 4), before the request is decoded:
///
/// 1. the method must be in ``AccessPolicy/table`` (else PERMISSION_DENIED: nothing is served by
///    accident);
/// 2. a bearer token, when sent, must verify (signature, algorithm, issuer, audience, expiry), and
///    its principal must still be active (membership, user, service account) (else
///    UNAUTHENTICATED); without one, only public methods run;
/// 3. the principal's permissions, resolved on the server, must satisfy the method's requirement
///    (else PERMISSION_DENIED).
///
/// The caller is attached as ``KaroKarRPC/ServerCallContext/caller``. Tenant scoping is the
/// handlers' (they answer NOT_FOUND for other tenants' data).
public struct AuthorizationInterceptor: ServerInterceptor {
    let authority: TokenAuthority
    let cache: PrincipalCache
    let pool: PostgresPool

    public func intercept(
        context: ServerCallContext, next: (ServerCallContext) async throws -> ByteBuffer
    ) async throws -> ByteBuffer {
        guard let requirement = AccessPolicy.requirement(for: context.path) else {
            throw RPCError(.permissionDenied, "this method has no access rule", domainCode: "PERMISSION_DENIED")
        }
        guard let token = try BearerToken.parse(context.metadata) else {
            guard requirement == .public else { throw IdentityErrors.missingToken }
            return try await next(context)
        }
        let claims = try authority.verify(token)
        let principal = try await resolve(claims)
        let caller = principal.caller
        guard requirement.admits(caller) else {
            throw RPCError(.permissionDenied, "the caller's permissions do not allow this method", domainCode: "PERMISSION_DENIED")
        }
        var context = context
        context.caller = caller
        context.attributes[AuthenticatedKey.self] = Authenticated(principal: principal, claims: claims)
        return try await next(context)
    }

    /// The token's principal, from the cache or the database; UNAUTHENTICATED when it is gone or
    /// no longer the one the token was minted for.
    func resolve(_ claims: TokenClaims) async throws -> Principal {
        let key: PrincipalKey = claims.kind == .user ? .membership(claims.membership!) : .serviceAccount(claims.subject)
        let principal: Principal?
        switch cache.lookup(key) {
        case .hit(let cached):
            principal = cached
        case .miss(let generation):
            principal = try await load(key)
            cache.store(key, principal, loadedAt: generation)
        }
        guard let principal, Self.matches(principal, claims) else { throw IdentityErrors.revokedToken }
        return principal
    }

    private func load(_ key: PrincipalKey) async throws -> Principal? {
        let loaded: Principal?
        switch key {
        case .membership(let id): loaded = try await PrincipalStore.membership(id, on: pool)
        case .serviceAccount(let id): loaded = try await PrincipalStore.serviceAccount(id, on: pool)
        }
        return loaded.flatMap { $0.isActive ? $0 : nil }
    }

    static func matches(_ principal: Principal, _ claims: TokenClaims) -> Bool {
        guard principal.organization.id == claims.organization else { return false }
        if let account = principal.serviceAccount {
            return claims.kind == .serviceAccount && account.id == claims.subject && account.secretGeneration == claims.secretGeneration
        }
        return claims.kind == .user && principal.user?.id == claims.subject && principal.membership?.id == claims.membership
    }
}

/// `authorization: Bearer <token>` (RFC 6750; the scheme is case-insensitive).
enum BearerToken {
    /// nil when there is no `authorization` entry; UNAUTHENTICATED when it is not a bearer token.
    static func parse(_ metadata: Metadata) throws(RPCError) -> String? {
        guard let bytes = metadata.bytes(for: Metadata.Key.authorization) else { return nil }
        guard bytes.count > 7, bytes.count <= TokenCodec.maximumTokenBytes + 7,
              let text = String(validating: bytes, as: UTF8.self), text.prefix(7).lowercased() == "bearer "
        else { throw IdentityErrors.invalidToken }
        let token = text.dropFirst(7)
        guard !token.isEmpty, token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw IdentityErrors.invalidToken }
        return String(token)
    }
}
