import Foundation
@testable import IdentityContext
import KaroKarKernel
import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import KaroKarTestSupport
import Logging
import NIOCore
import Synchronization
import Testing

/// What a connection remembers of the credential it last presented (the interceptor's fast
/// path), and WhoAmI's answer from encoded bytes. The memory must never outlive what it rests
/// on: the token's expiry, the signing key, and the principal's cache entry.
@Suite("Identity: a connection's verified credential")
struct VerifiedCredentialTests {
    /// The wall clock tokens are issued and checked by, and the monotonic one of the cache,
    /// moved together by the test.
    final class Clock: WallClock {
        let state = Mutex((seconds: Int64(1_900_000_000), instant: ContinuousClock.now))
        var seconds: Int64 { state.withLock { $0.seconds } }
        var instant: ContinuousClock.Instant { state.withLock { $0.instant } }
        func now() -> Instant { Instant(microseconds: seconds * 1_000_000) }
        func advance(_ seconds: Int64) {
            state.withLock {
                $0.seconds += seconds
                $0.instant += .seconds(seconds)
            }
        }
    }

    static let whoAmI = IdentityV1.IdentityService.Method.whoAmI

    let clock = Clock()
    let authority: TokenAuthority
    let cache: PrincipalCache
    let interceptor: AuthorizationInterceptor
    let connection = ConnectionAttributes()
    let organization = UUID()
    let user = UUID()
    let membership = UUID()

    init() throws {
        let clock = clock
        authority = TokenAuthority(accessTokenLifetime: .seconds(600), clock: clock)
        authority.install(try Self.codec())
        let cache = PrincipalCache(timeToLive: .seconds(30), now: { clock.instant })
        self.cache = cache
        // Nothing here may reach the database: what the cache does not hold is refused.
        interceptor = AuthorizationInterceptor(authority: authority, cache: cache) { claims in
            try await cache.resolve(claims) { _ in throw NoDatabase() }
        }
    }

    struct NoDatabase: Error {}

    static func codec() throws -> TokenCodec {
        TokenCodec(key: try TokenKey(algorithm: .hs256, material: TokenKey.generateMaterial(for: .hs256)), issuer: "karokar", audience: "karokar-rpc")
    }

    func principal(
        membership: UUID, granted: Set<Permission> = [.organizationRead], status: MembershipStatus = .active, revokedSessions: Set<UUID> = []
    ) -> Principal {
        let now = Instant(microseconds: 0)
        return Principal(
            organization: OrganizationRecord(id: organization, name: "o", kind: .vendor, status: .active, parentID: nil, metadata: [:], version: 1, createdAt: now, updatedAt: now),
            granted: granted,
            user: UserRecord(id: user, firstName: "a", lastName: "b", email: "a@b.c", phone: nil, status: .active, version: 1, createdAt: now, updatedAt: now),
            membership: MembershipRecord(id: membership, userID: user, organizationID: organization, roleID: UUID(), roleName: "VENDOR_STAFF", status: status, version: 1, createdAt: now, updatedAt: now),
            serviceAccount: nil, revokedSessions: revokedSessions
        )
    }

    /// Caches `principal` (nil: known inactive) as a load would.
    func cache(_ principal: Principal?, for membership: UUID) {
        guard case .miss(let generation) = cache.lookup(.membership(membership)) else {
            Issue.record("expected a cache miss")
            return
        }
        cache.store(.membership(membership), principal, loadedAt: generation)
    }

    func token(for membership: UUID, session: UUID = UUID()) throws -> String {
        try authority.issue(kind: .user, subject: user, organization: organization, membership: membership, session: session).token
    }

    /// The caller the handler saw in a call of `method` (its path and declared rule; WhoAmI by
    /// default), or the error that refused the call.
    func call<Request, Response>(
        _ token: String, method: RPCMethod<Request, Response> = whoAmI
    ) async -> Result<Caller, RPCError> {
        let context = ServerCallContext(
            path: method.path, service: method.service, method: method.name, access: method.access, callID: 1,
            metadata: Metadata([("authorization", "Bearer \(token)")]), deadline: nil, peer: "test", logger: Logger(label: "test"),
            connection: connection
        )
        let seen = Mutex<Caller?>(nil)
        do {
            _ = try await interceptor.intercept(context: context) { context in
                seen.withLock { $0 = context.caller }
                return ByteBuffer()
            }
        } catch let error as RPCError {
            return .failure(error)
        } catch {
            return .failure(RPCError(.unknown, "\(error)"))
        }
        guard let caller = seen.withLock({ $0 }) else { return .failure(RPCError(.internal, "the handler saw no caller")) }
        return .success(caller)
    }

    var remembered: VerifiedCredential? { connection[VerifiedCredentialKey.self] }

    @Test func theNextCallWithTheSameBytesReusesTheVerification() async throws {
        cache(principal(membership: membership), for: membership)
        let token = try token(for: membership)
        #expect(try await call(token).get().membershipID == membership)
        let first = try #require(remembered)
        #expect(try await call(token).get().membershipID == membership)
        #expect(remembered === first, "nothing changed: the same memory serves")
    }

    @Test func anExpiredTokenIsRefusedEvenWhenRemembered() async throws {
        cache(principal(membership: membership), for: membership)
        let token = try token(for: membership)
        _ = try await call(token).get()
        clock.advance(600 + 5)  // lifetime and leeway
        #expect(await call(token).failure?.domainCode == IdentityErrors.expiredToken.domainCode)
    }

    @Test func aTokenOfAnEndedSessionIsRevokedAndTheMembershipsOtherSessionsAreNot() async throws {
        let (ended, other) = (UUID(), UUID())
        cache(principal(membership: membership), for: membership)
        let token = try token(for: membership, session: ended)
        _ = try await call(token).get()
        cache.invalidate(.membership(membership))  // a logout: the principal is read again, knowing the ended session
        cache(principal(membership: membership, revokedSessions: [ended]), for: membership)
        #expect(await call(token).failure?.domainCode == IdentityErrors.revokedToken.domainCode)
        #expect(try await call(try self.token(for: membership, session: other)).get().membershipID == membership)
    }

    @Test func aChangedPrincipalIsSeenAtOnce() async throws {
        cache(principal(membership: membership), for: membership)
        let token = try token(for: membership)
        _ = try await call(token).get()
        cache.invalidate(.membership(membership))
        cache(nil, for: membership)  // removed: known not to be an active principal
        #expect(await call(token).failure?.code == .unauthenticated)

        cache.invalidate(.membership(membership))
        cache(principal(membership: membership, granted: [.organizationRead, .memberRead]), for: membership)
        #expect(try await call(token).get().permissions.contains(.memberRead), "a new role's permissions apply at the next call")
    }

    @Test func theCacheEntryExpiringEndsTheMemory() async throws {
        cache(principal(membership: membership), for: membership)
        let token = try token(for: membership)
        _ = try await call(token).get()
        clock.advance(31)
        cache(principal(membership: membership, granted: [.organizationRead, .vehicleRead]), for: membership)
        #expect(try await call(token).get().permissions.contains(.vehicleRead), "reloaded after the time to live, not remembered")
    }

    @Test func aNewSigningKeyEndsTheMemory() async throws {
        cache(principal(membership: membership), for: membership)
        let token = try token(for: membership)
        _ = try await call(token).get()
        authority.install(try Self.codec())
        #expect(await call(token).failure?.code == .unauthenticated, "signed with the previous key")
    }

    @Test func otherBytesAreVerifiedInFull() async throws {
        let other = UUID()
        cache(principal(membership: membership), for: membership)
        cache(principal(membership: other), for: other)
        let token = try token(for: membership)
        _ = try await call(token).get()
        #expect(try await call(try self.token(for: other)).get().membershipID == other)

        var tampered = Array(token.utf8)
        let index = tampered.count - 3  // in the signature, same length as the remembered one
        tampered[index] = tampered[index] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(await call(String(decoding: tampered, as: UTF8.self)).failure?.code == .unauthenticated)
        #expect(await call(token + "x").failure?.code == .unauthenticated)
    }

    @Test func theRememberedCallerIsStillCheckedAgainstEachMethod() async throws {
        cache(principal(membership: membership), for: membership)
        let token = try token(for: membership)
        _ = try await call(token).get()
        let refused = await call(token, method: IdentityV1.IdentityService.Method.createUser)
        #expect(refused.failure?.code == .permissionDenied, "organization.read does not create users")
        #expect(try await call(token).get().membershipID == membership)
    }

    @Test(arguments: [Int64(0), 1, 1_900_000_000, Int64.max, -1])
    func whoAmIFromEncodedBytesIsWhatEncodingTheWholeAnswerGives(_ expiresAt: Int64) throws {
        let principal = principal(membership: membership, granted: [.organizationRead, .memberRead, .vehicleRead])
        let whole = IdentityV1.WhoAmIResponse(
            principalType: .user, user: principal.user?.message, membership: principal.membership?.message,
            organization: principal.organization.message, permissions: ["member.read", "organization.read", "vehicle.read"],
            tokenExpiresAt: CommonV1.Timestamp(seconds: expiresAt, nanos: 0)
        )
        let answer = WhoAmIAnswer(principal, tokenExpiresAt: expiresAt)
        #expect(answer.response == whole)
        var encoded = answer.encoded
        #expect(encoded.readerIndex == RPCRoute.responseHeadroom)
        let bytes = encoded.readBytes(length: encoded.readableBytes)!
        #expect(bytes == ProtoCodec.encode(whole))
        #expect(try ProtoCodec.decode(IdentityV1.WhoAmIResponse.self, from: bytes) == whole)
    }

    @Test func theVerifiedCredentialCarriesItsTokensWhoAmIAnswer() async throws {
        cache(principal(membership: membership), for: membership)
        let token = try token(for: membership)
        _ = try await call(token).get()
        let answer = try #require(remembered?.attributes[WhoAmIAnswerKey.self])
        #expect(answer.response.tokenExpiresAt?.seconds == clock.seconds + 600)
        #expect(answer.response.membership?.id == membership.lowercasedString)
        _ = try await call(token).get()
        #expect(remembered?.attributes[WhoAmIAnswerKey.self] === answer, "encoded once per verified credential, not per call")
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
