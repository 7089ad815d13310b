import Foundation
@testable import IdentityContext
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// Issue 19, finding 1: a token's instants come from outside. A validly signed token with
/// `exp = 2^63 - 1` used to end the process (an overflow trap adding the leeway); every instant
/// outside 1970 to 9999 is now refused as a malformed claim, and the time checks cannot overflow
/// whatever the clock says.
@Suite("Identity: token instants at Int64's ends", .serialized)
struct TokenInstantTests {
    static var extremes: [(String, [String: Any])] { [
        ("exp = Int64.max", ["exp": Int64.max]),
        ("exp = Int64.min", ["exp": Int64.min]),
        ("nbf = Int64.min", ["nbf": Int64.min]),
        ("iat = Int64.min", ["iat": Int64.min]),
        ("nbf and iat = Int64.min", ["nbf": Int64.min, "iat": Int64.min]),
        ("iat = Int64.max", ["iat": Int64.max]),
        ("exp past the year 9999", ["exp": 253_402_300_800]),
        ("exp before 1970", ["exp": -1]),
        ("exp = 2^63, beyond Int64", ["exp": UInt64(1) << 63]),
        ("exp = 2^64 - 1", ["exp": UInt64.max]),
    ] }

    @Test("validly signed tokens with instants at Int64's ends are UNAUTHENTICATED / INVALID_TOKEN, and the server stays up")
    func overTCP() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let genuine = TestTokens.claims(of: vendor.admin.accessToken)
            for (_, changes) in Self.extremes {
                let token = TestTokens.token(header: TestTokens.hs256, claims: genuine.merging(changes) { $1 })
                let options = CallOptions(timeout: .seconds(30), metadata: Metadata([("authorization", "Bearer \(token)")]))
                await expectCode(.unauthenticated, domainCode: "INVALID_TOKEN") {
                    _ = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: options)
                }
            }
            #expect(try await RPCV1.HealthService.Client(market.client).check(.init()).status == .serving)
            let me = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: vendor.admin.callOptions)
            #expect(me.user?.id == vendor.admin.userID, "the genuine token still works")
        }
    }

    @Test("the codec refuses the claims, and its time checks are total for any clock reading")
    func codec() throws {
        let codec = TokenCodec(key: try TokenKey(algorithm: .hs256, material: TestIdentity.signingKey), issuer: "karokar", audience: "karokar-rpc")
        let now = Int64(1_900_000_000)
        let base: [String: Any] = [
            "iss": "karokar", "aud": "karokar-rpc", "sub": UUID().uuidString.lowercased(), "org": UUID().uuidString.lowercased(),
            "mid": UUID().uuidString.lowercased(), "sid": UUID().uuidString.lowercased(), "knd": "user", "iat": now, "nbf": now, "exp": now + 900, "jti": "t",
        ]
        for (name, changes) in Self.extremes {
            let token = TestTokens.token(header: TestTokens.hs256, claims: base.merging(changes) { $1 })
            #expect(throws: TokenRejection.claims, "\(name)") { try codec.verify(token, now: now) }
        }
        let claims = try codec.verify(TestTokens.token(header: TestTokens.hs256, claims: base), now: now)
        for clock in [Int64.min, -1, 0, Int64.max - 4, Int64.max] {
            _ = try? codec.check(claims, now: clock)  // must not trap
        }
        #expect(throws: TokenRejection.expired) { try codec.check(claims, now: .max) }
        #expect(throws: TokenRejection.notYetValid) { try codec.check(claims, now: .min) }
        var far = claims
        far.expiresAt = .max
        far.notBefore = .min
        far.issuedAt = .min
        #expect(throws: Never.self) { try codec.check(far, now: .max - 1) }
        let authority = TokenAuthority(accessTokenLifetime: .seconds(900), clock: ManualClock(Instant(microseconds: .max)))
        authority.install(codec)
        #expect(authority.window(of: far) == Int64.min..<Int64.max)
        #expect(throws: Never.self) { _ = try authority.issue(kind: .user, subject: UUID(), organization: UUID(), membership: UUID(), session: UUID()) }
    }
}
