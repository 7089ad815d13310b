import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarServices
import KaroKarPostgres
public import KaroKarRPC
public import NIOCore

/// What the interceptor learned about an authenticated call, for Identity's own handlers
/// (WhoAmI answers from it without a database round trip). A class: made once per remembered
/// credential, and attached to each call as one reference.
final class Authenticated: Sendable {
    let principal: Principal
    /// The token's `exp`.
    let expiresAt: Int64

    init(principal: Principal, expiresAt: Int64) {
        self.principal = principal
        self.expiresAt = expiresAt
    }
}

enum AuthenticatedKey: CallAttributeKey {
    typealias Value = Authenticated
}

/// A credential verified on a connection, and what the calls that present it get: its caller
/// and, for Identity's handlers, its principal. Immutable (the connection's calls share it).
final class VerifiedCredential: Sendable {
    /// The `authorization` value, byte for byte.
    let credential: [UInt8]
    let principal: Principal
    let attributes: CallAttributes
    /// The key installation the token was verified under, and the principal cache's generation
    /// when the principal was read.
    let installation: UInt64
    let generation: UInt64
    /// When this stops serving: the token's expiry (with leeway) or the principal's cache entry's,
    /// whichever comes first; one monotonic clock reading per call checks both.
    let expires: ContinuousClock.Instant

    init(
        credential: [UInt8], claims: TokenClaims, principal: Principal, installation: UInt64, generation: UInt64,
        expires: ContinuousClock.Instant
    ) {
        self.credential = credential
        self.principal = principal
        var attributes = CallAttributes()
        attributes.caller = principal.caller
        attributes[AuthenticatedKey.self] = Authenticated(principal: principal, expiresAt: claims.expiresAt)
        self.attributes = attributes
        self.installation = installation
        self.generation = generation
        self.expires = expires
    }

    /// True when `credential` is this one and nothing it rests on has changed: the same signing
    /// key, the token not expired, and the principal's cache entry neither invalidated (which any
    /// change to a membership, user, account or organization does) nor expired.
    func isCurrent(for credential: [UInt8], authority: TokenAuthority, cache: PrincipalCache) -> Bool {
        guard credential.count == self.credential.count, cache.generation == generation, authority.installation == installation,
              cache.now() < expires
        else { return false }
        return credential.withUnsafeBytes { presented in
            self.credential.withUnsafeBytes { remembered in
                // The connection usually hands out the very array it remembered (MethodCache).
                presented.baseAddress == remembered.baseAddress || memcmp(presented.baseAddress!, remembered.baseAddress!, presented.count) == 0
            }
        }
    }
}

/// A method's entry in ``AccessPolicy/table`` (nil: none, so nobody may call it), prepared once
/// per method.
final class AccessRule: Sendable {
    let requirement: MethodAccess?

    init(_ requirement: MethodAccess?) {
        self.requirement = requirement
    }
}

enum VerifiedCredentialKey: ConnectionAttributeKey {
    typealias Value = VerifiedCredential
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
///
/// A class: the dispatcher holds interceptors as existentials, and a struct of three references
/// would be copied (three retains and releases) on every call.
public final class AuthorizationInterceptor: ServerInterceptor {
    let authority: TokenAuthority
    let cache: PrincipalCache
    let pool: PostgresPool

    init(authority: TokenAuthority, cache: PrincipalCache, pool: PostgresPool) {
        self.authority = authority
        self.cache = cache
        self.pool = pool
    }

    public func intercept(
        context: ServerCallContext, next: (ServerCallContext) async throws -> ByteBuffer
    ) async throws -> ByteBuffer {
        var context = context
        if let (credential, requirement) = try admission(&context) {
            try Self.admit(&context, verified: try await verify(credential, on: context.connection), requirement)
        }
        return try await next(context)
    }

    /// The method's rule, looked up once when the server starts instead of by path on every call.
    public func prepare(forPath path: String) -> (any AnyObject & Sendable)? {
        AccessRule(AccessPolicy.requirement(for: path))
    }

    /// The usual call, decided on the spot: a public method without credentials, or the
    /// credential the connection verified last, still current. False when the credential must be
    /// verified (the connection's first call, a new token, a principal cache entry gone stale).
    public func admitNow(context: inout ServerCallContext) throws(RPCError) -> Bool {
        try admission(&context) == nil
    }

    /// Everything decided without suspending: the method's rule, the credential's presence, and
    /// the connection's memory of the last credential it verified (whose caller it attaches).
    /// Nil when the call is admitted; else the credential still to verify, and the method's rule.
    private func admission(_ context: inout ServerCallContext) throws(RPCError) -> (credential: [UInt8], requirement: MethodAccess)? {
        let rule = context.methodInfo.prepared(by: Self.self, as: AccessRule.self)
        guard let requirement = rule == nil ? AccessPolicy.requirement(for: context.path) : rule!.requirement else {
            throw RPCError(.permissionDenied, "this method has no access rule", domainCode: "PERMISSION_DENIED")
        }
        guard let credential = context.metadata.bytes(for: Metadata.Key.authorization) else {
            guard case .public = requirement else { throw IdentityErrors.missingToken }
            return nil
        }
        guard let memo = context.connection[VerifiedCredentialKey.self], memo.isCurrent(for: credential, authority: authority, cache: cache) else {
            return (credential, requirement)
        }
        try Self.admit(&context, verified: memo, requirement)
        return nil
    }

    /// Attaches the verified caller (and, for Identity's handlers, its principal), if its
    /// permissions satisfy `requirement`.
    private static func admit(
        _ context: inout ServerCallContext, verified: VerifiedCredential, _ requirement: MethodAccess
    ) throws(RPCError) {
        guard requirement.admits(verified.principal.caller) else {
            throw RPCError(.permissionDenied, "the caller's permissions do not allow this method", domainCode: "PERMISSION_DENIED")
        }
        if context.attributes.isEmpty {
            context.attributes = verified.attributes  // the usual case: this interceptor runs first
        } else {
            context.caller = verified.principal.caller
            context.attributes[AuthenticatedKey.self] = verified.attributes[AuthenticatedKey.self]
        }
    }

    /// The full check of a credential the connection has not just verified: parse, signature
    /// (or the authority's memory of it), principal from the cache or the database. Remembered
    /// on the connection when the principal came from the cache.
    private func verify(_ credential: [UInt8], on connection: ConnectionAttributes) async throws -> VerifiedCredential {
        guard let token = try BearerToken.parse(credential) else { throw IdentityErrors.invalidToken }
        let installation = authority.installation  // read first: a key installed meanwhile ends the memory
        let claims = try authority.verify(token)
        let principal: Principal
        if let snapshot = cache.snapshot(Self.key(claims)) {
            principal = try Self.checked(snapshot.principal, claims)
            let seconds = authority.now()
            if let window = authority.window(of: claims), window.contains(seconds) {
                // The token's remaining seconds, on the cache's monotonic clock (tokens live minutes).
                let tokenExpires = cache.now() + .seconds(min(window.upperBound - seconds, 86_400))
                let verified = VerifiedCredential(
                    credential: credential, claims: claims, principal: principal, installation: installation,
                    generation: snapshot.generation, expires: min(tokenExpires, snapshot.expires)
                )
                connection[VerifiedCredentialKey.self] = verified
                return verified
            }
        } else {
            principal = try await resolve(claims)
        }
        return VerifiedCredential(credential: credential, claims: claims, principal: principal, installation: 0, generation: 0, expires: cache.now())
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
        return try parse(bytes)
    }

    /// The token in an `authorization` value; UNAUTHENTICATED when it is not a bearer token.
    static func parse(_ bytes: [UInt8]) throws(RPCError) -> String? {
        guard bytes.count > scheme.count, bytes.count <= TokenCodec.maximumTokenBytes + scheme.count else { throw IdentityErrors.invalidToken }
        for (byte, expected) in zip(bytes, scheme) where ((0x41...0x5A).contains(byte) ? byte | 0x20 : byte) != expected {
            throw IdentityErrors.invalidToken
        }
        // Visible ASCII only, so the bytes are their own (valid UTF-8) string.
        guard bytes[scheme.count...].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw IdentityErrors.invalidToken }
        return String(decoding: bytes[scheme.count...], as: UTF8.self)
    }
}
