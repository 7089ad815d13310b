import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarServices
import KaroKarPostgres
public import KaroKarRPC
public import NIOCore

/// What the interceptor learned about an authenticated call, for Identity's own handlers
/// (WhoAmI answers from it without a database round trip).
struct Authenticated: Sendable {
    let principal: Principal
    /// The token's `exp`.
    let expiresAt: Int64
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
    static let identityService = IdentityV1.IdentityService.descriptor.name

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
        let principal: Principal
        if let cached = try cached(claims) {
            principal = cached
        } else {
            principal = try await resolve(claims)
        }
        let caller = principal.caller
        guard requirement.admits(caller) else {
            throw RPCError(.permissionDenied, "the caller's permissions do not allow this method", domainCode: "PERMISSION_DENIED")
        }
        var context = context
        context.caller = caller
        if context.service == Self.identityService {  // only Identity's handlers read it (WhoAmI)
            context.attributes[AuthenticatedKey.self] = Authenticated(principal: principal, expiresAt: claims.expiresAt)
        }
        return try await next(context)
    }

    /// The token's principal, from the cache or the database; UNAUTHENTICATED when it is gone or
    /// no longer the one the token was minted for.
    func resolve(_ claims: TokenClaims) async throws -> Principal {
        let key = Self.key(claims)
        switch cache.lookup(key) {
        case .hit(let cached):
            return try Self.checked(cached, claims)
        case .miss(let generation):
            let loaded = try await load(key)
            cache.store(key, loaded, loadedAt: generation)
            return try Self.checked(loaded, claims)
        }
    }

    /// The cached principal without a suspension (the common case), nil when not cached.
    func cached(_ claims: TokenClaims) throws(RPCError) -> Principal? {
        guard case .hit(let cached) = cache.lookup(Self.key(claims)) else { return nil }
        return try Self.checked(cached, claims)
    }

    static func key(_ claims: TokenClaims) -> PrincipalKey {
        claims.kind == .user ? .membership(claims.membership!) : .serviceAccount(claims.subject)
    }

    static func checked(_ principal: Principal?, _ claims: TokenClaims) throws(RPCError) -> Principal {
        guard let principal, matches(principal, claims) else { throw IdentityErrors.revokedToken }
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

/// `authorization: Bearer <token>` (RFC 6750; the scheme is case-insensitive). Read as bytes:
/// it is on every call's path.
enum BearerToken {
    private static let scheme = Array("bearer ".utf8)

    /// nil when there is no `authorization` entry; UNAUTHENTICATED when it is not a bearer token.
    static func parse(_ metadata: Metadata) throws(RPCError) -> String? {
        guard let bytes = metadata.bytes(for: Metadata.Key.authorization) else { return nil }
        guard bytes.count > scheme.count, bytes.count <= TokenCodec.maximumTokenBytes + scheme.count else { throw IdentityErrors.invalidToken }
        for (byte, expected) in zip(bytes, scheme) where ((0x41...0x5A).contains(byte) ? byte | 0x20 : byte) != expected {
            throw IdentityErrors.invalidToken
        }
        // Visible ASCII only, so the bytes are their own (valid UTF-8) string.
        guard bytes[scheme.count...].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw IdentityErrors.invalidToken }
        return String(decoding: bytes[scheme.count...], as: UTF8.self)
    }
}
