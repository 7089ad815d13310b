import Foundation
import KaroKarKernel
public import KaroKarRPC
public import NIOCore

/// A method's access rule, resolved once per method when the server starts (nil: it names a
/// permission this server does not know, so nobody may call it).
final class AccessRule: Sendable {
    let requirement: AccessRequirement?

    init(_ declared: MethodAccess) {
        requirement = AccessRequirement(declared)
    }
}

/// Authentication and authorization for every call (issue 4), before the request is decoded:
///
/// 1. the method's rule, declared in its `.proto` (the method table carries it), must be one
///    this server understands (else PERMISSION_DENIED: nothing is served by accident);
/// 2. a bearer token, when sent, must verify (signature, algorithm, issuer, audience, expiry), and
///    its principal must still be active (membership, user, service account) (else
///    UNAUTHENTICATED); without one, only public methods run;
/// 3. the principal's permissions, resolved on the server, must satisfy the method's requirement
///    (else PERMISSION_DENIED).
///
/// The caller is attached as ``KaroKarRPC/ServerCallContext/caller``. Tenant scoping is the use
/// cases' (they answer NOT_FOUND for other tenants' data).
///
/// A class: the dispatcher holds interceptors as existentials, and a struct of three references
/// would be copied (three retains and releases) on every call.
public final class AuthorizationInterceptor: ServerInterceptor {
    let authority: TokenAuthority
    let cache: PrincipalCache
    /// Identity's use case for a principal that is not cached (it reads the database).
    let principal: @Sendable (TokenClaims) async throws -> Principal

    init(authority: TokenAuthority, cache: PrincipalCache, principal: @escaping @Sendable (TokenClaims) async throws -> Principal) {
        self.authority = authority
        self.cache = cache
        self.principal = principal
    }

    public func intercept(
        context: ServerCallContext, next: (ServerCallContext) async throws -> ByteBuffer
    ) async throws -> ByteBuffer {
        var context = context
        if let (credential, requirement) = try admission(&context) {
            let verified: VerifiedCredential
            do {
                verified = try await verify(credential, on: context.connection)
            } catch let refusal as DomainError {
                throw refusal.rpcError
            }
            try Self.admit(&context, verified: verified, requirement)
        }
        return try await next(context)
    }

    /// The method's rule, resolved once when the server starts instead of on every call.
    public func prepare(forPath path: String, access: MethodAccess) -> (any AnyObject & Sendable)? {
        AccessRule(access)
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
    private func admission(_ context: inout ServerCallContext) throws(RPCError) -> (credential: [UInt8], requirement: AccessRequirement)? {
        let prepared = context.methodInfo.prepared(by: Self.self, as: AccessRule.self)
        // A context built by hand has no prepared rule: its method's declared one, resolved now.
        guard let requirement = prepared == nil ? AccessRequirement(context.methodInfo.access) : prepared!.requirement else {
            throw RPCError(.permissionDenied, "this method has no valid access rule", domainCode: "PERMISSION_DENIED")
        }
        guard let credential = context.metadata.bytes(for: Metadata.Key.authorization) else {
            guard case .public = requirement else { throw IdentityErrors.missingToken.rpcError }
            return nil
        }
        guard let memo = context.connection[VerifiedCredentialKey.self], memo.isCurrent(for: credential, authority: authority, cache: cache) else {
            return (credential, requirement)
        }
        try Self.admit(&context, verified: memo, requirement)
        return nil
    }

    /// Attaches the verified caller (and WhoAmI's answer), if its permissions satisfy `requirement`.
    private static func admit(
        _ context: inout ServerCallContext, verified: VerifiedCredential, _ requirement: AccessRequirement
    ) throws(RPCError) {
        guard requirement.admits(verified.caller) else {
            throw RPCError(.permissionDenied, "the caller's permissions do not allow this method", domainCode: "PERMISSION_DENIED")
        }
        if context.attributes.isEmpty {
            context.attributes = verified.attributes  // the usual case: this interceptor runs first
        } else {
            context.caller = verified.caller
            context.attributes[WhoAmIAnswerKey.self] = verified.attributes[WhoAmIAnswerKey.self]
        }
    }

    /// The full check of a credential the connection has not just verified: parse, signature
    /// (or the authority's memory of it), principal from the cache or Identity's use case.
    /// Remembered on the connection when the principal came from the cache.
    private func verify(_ credential: [UInt8], on connection: ConnectionAttributes) async throws -> VerifiedCredential {
        let token = try BearerToken.parse(credential)
        let installation = authority.installation  // read first: a key installed meanwhile ends the memory
        let claims = try authority.verify(token)
        guard let snapshot = cache.snapshot(TokenPrincipal.key(claims)) else {
            let loaded = try await principal(claims)
            return VerifiedCredential(credential: credential, claims: claims, principal: loaded, installation: 0, generation: 0, expires: cache.now())
        }
        let principal = try TokenPrincipal.checked(snapshot.principal, claims)
        let seconds = authority.now()
        guard let window = authority.window(of: claims), window.contains(seconds) else {
            return VerifiedCredential(credential: credential, claims: claims, principal: principal, installation: 0, generation: 0, expires: cache.now())
        }
        // The token's remaining seconds, on the cache's monotonic clock (tokens live minutes).
        let tokenExpires = cache.now() + .seconds(min(window.upperBound - seconds, 86_400))
        let verified = VerifiedCredential(
            credential: credential, claims: claims, principal: principal, installation: installation,
            generation: snapshot.generation, expires: min(tokenExpires, snapshot.expires)
        )
        connection[VerifiedCredentialKey.self] = verified
        return verified
    }
}
