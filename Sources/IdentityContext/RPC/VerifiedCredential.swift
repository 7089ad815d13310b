import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import NIOCore

/// WhoAmI's answer for one verified credential, built once when it is verified: the message,
/// and its encoding with room in front for the REPLY header. Attached to each of the
/// credential's calls as one reference.
final class WhoAmIAnswer: Sendable {
    let response: IdentityV1.WhoAmIResponse
    /// `response`, encoded, starting ``KaroKarRPC/RPCRoute/responseHeadroom`` bytes into the buffer.
    let encoded: ByteBuffer

    init(_ principal: Principal, tokenExpiresAt: Int64) {
        response = IdentityV1.WhoAmIResponse(principal, tokenExpiresAt: tokenExpiresAt)
        encoded = ByteBuffer(encoding: response, headroom: RPCRoute.responseHeadroom)
    }
}

enum WhoAmIAnswerKey: CallAttributeKey {
    typealias Value = WhoAmIAnswer
}

/// A credential verified on a connection, and what the calls that present it get: its caller
/// and WhoAmI's answer. Immutable (the connection's calls share it).
final class VerifiedCredential: Sendable {
    /// The `authorization` value, byte for byte.
    let credential: [UInt8]
    let caller: Caller
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
        caller = principal.caller
        var attributes = CallAttributes()
        attributes.caller = principal.caller
        attributes[WhoAmIAnswerKey.self] = WhoAmIAnswer(principal, tokenExpiresAt: claims.expiresAt)
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

enum VerifiedCredentialKey: ConnectionAttributeKey {
    typealias Value = VerifiedCredential
}
