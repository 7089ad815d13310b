import Crypto
import Foundation
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// Tokens as an attacker makes them, over TCP: each one UNAUTHENTICATED, on reads and writes,
/// and nothing changes.
@Suite("Identity: forged and stale tokens", .serialized)
struct ForgedTokenTests {
    static func bearer(_ token: String) -> CallOptions {
        CallOptions(timeout: .seconds(30), metadata: Metadata([("authorization", "Bearer \(token)")]))
    }

    static func forgeries(of token: String, otherOrganization: String, otherUser: String) -> [(String, String)] {
        let claims = TestTokens.claims(of: token)
        let parts = token.split(separator: ".").map(String.init)
        let now = Int(Date().timeIntervalSince1970)
        func with(_ changes: [String: Any]) -> [String: Any] { claims.merging(changes) { $1 } }
        let hs512Input = TestTokens.base64URL(TestTokens.json(["alg": "HS512", "typ": "JWT"])) + "." + parts[1]
        let hs512 = HMAC<SHA512>.authenticationCode(for: Array(hs512Input.utf8), using: SymmetricKey(data: TestIdentity.signingKey))
        return [
            ("wrong key", TestTokens.token(header: TestTokens.hs256, claims: claims, key: Array(repeating: 0x42, count: 32))),
            ("tampered payload", parts[0] + "." + TestTokens.base64URL(TestTokens.json(with(["org": otherOrganization]))) + "." + parts[2]),
            ("alg none", TestTokens.token(header: ["alg": "none", "typ": "JWT"], claims: claims, key: nil)),
            ("alg none, signature kept", TestTokens.base64URL(TestTokens.json(["alg": "none"])) + "." + parts[1] + "." + parts[2]),
            ("alg HS512", hs512Input + "." + TestTokens.base64URL(hs512)),
            ("alg EdDSA", TestTokens.token(header: ["alg": "EdDSA"], claims: claims)),
            ("expired", TestTokens.token(header: TestTokens.hs256, claims: with(["iat": now - 3600, "nbf": now - 3600, "exp": now - 120]))),
            ("not yet valid", TestTokens.token(header: TestTokens.hs256, claims: with(["nbf": now + 600, "exp": now + 1200]))),
            ("wrong issuer", TestTokens.token(header: TestTokens.hs256, claims: with(["iss": "evil"]))),
            ("wrong audience", TestTokens.token(header: TestTokens.hs256, claims: with(["aud": "another-service"]))),
            ("minted for another organization", TestTokens.token(header: TestTokens.hs256, claims: with(["org": otherOrganization]))),
            ("another user's membership", TestTokens.token(header: TestTokens.hs256, claims: with(["sub": otherUser]))),
            ("a service account's kind", TestTokens.token(header: TestTokens.hs256, claims: with(["knd": "service_account", "sgen": 1]))),
            ("garbage", "not.a.token"),
            ("empty", ""),
        ]
    }

    @Test func everyForgeryIsUnauthenticatedOnReadsWritesAndPublicMethods() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let corporate = try await market.onboard(.corporate)
            let staffRole = try await market.roleID("VENDOR_STAFF", type: .vendor)
            let before = try await TableSnapshot.take(market.pool)
            for (name, token) in Self.forgeries(of: vendor.admin.accessToken, otherOrganization: corporate.id, otherUser: corporate.admin.userID) {
                let options = Self.bearer(token)
                await expectCode(.unauthenticated) { _ = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: options) }
                await expectCode(.unauthenticated) {
                    _ = try await market.identity.createUser(IdentityV1.CreateUserRequest(
                        firstName: "Eve", lastName: "Forger", email: "eve-\(name.count)@example.com", password: TestMarketplace.password,
                        roleId: staffRole
                    ), options: options)
                }
                await expectCode(.unauthenticated) {
                    _ = try await market.identity.login(IdentityV1.LoginRequest(email: vendor.adminEmail, password: TestMarketplace.password), options: options)
                }
            }
            for header in ["Token abc", "Bearer", "bearer  x y", "Basic dXNlcjpwYXNz"] {
                let options = CallOptions(metadata: Metadata([("authorization", header)]))
                await expectCode(.unauthenticated) { _ = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: options) }
            }
            #expect(try await TableSnapshot.take(market.pool) == before, "nothing changed")
            let genuine = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: vendor.admin.callOptions)
            #expect(genuine.user?.id == vendor.admin.userID, "the genuine token still works")
            _ = try await market.member(of: vendor, role: "VENDOR_STAFF")
            let after = try await TableSnapshot.take(market.pool)
            #expect(after["identity.users"] != before["identity.users"], "the snapshot does see changes")
            #expect(before.count >= 10)
        }
    }

    @Test func aRemovedMembersTokenAndRefreshTokenStopWorkingAtOnce() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let staff = try await market.member(of: vendor, role: "VENDOR_STAFF")
            let me = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: staff.callOptions)
            _ = try await market.identity.removeMember(
                IdentityV1.RemoveMemberRequest(membershipId: me.membership!.id, reason: CommonV1.StringValue(value: "left")),
                options: vendor.admin.callOptions
            )
            await expectCode(.unauthenticated, domainCode: "TOKEN_REVOKED") {
                _ = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: staff.callOptions)
            }
            await expectCode(.unauthenticated) {
                _ = try await market.identity.refreshToken(IdentityV1.RefreshTokenRequest(refreshToken: staff.refreshToken))
            }
            await expectCode(.unauthenticated) { _ = try await market.login(try await Self.email(of: staff, market)) }
        }
    }

    @Test func aDisabledUsersTokensStopWorkingAndTheyCannotSignIn() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let staff = try await market.member(of: vendor, role: "VENDOR_STAFF")
            _ = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: staff.callOptions)
            let platform = try await market.platformAdmin()
            let disabled = try await market.identity.disableUser(
                IdentityV1.DisableUserRequest(userId: staff.userID, reason: "fraud", expectedVersion: CommonV1.Int64Value(value: 1)),
                options: platform.callOptions
            )
            #expect(disabled.user?.status == .disabled)
            await expectCode(.unauthenticated) { _ = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: staff.callOptions) }
            await expectCode(.unauthenticated) {
                _ = try await market.identity.refreshToken(IdentityV1.RefreshTokenRequest(refreshToken: staff.refreshToken))
            }
            await expectCode(.unauthenticated, domainCode: "INVALID_CREDENTIALS") { _ = try await market.login(try await Self.email(of: staff, market)) }
            let events = try await market.pool.query("SELECT count(*) AS n FROM karokar_events.outbox WHERE event_type = 'user.disabled'")
            #expect(try events.single().decode(Int.self, "n") == 1)
        }
    }

    @Test func anotherServerProcessDropsItsCachedPrincipalWhenAMemberIsRemovedHere() async throws {
        try await TestMarketplace.run { market in
            let second = try await TestServer.start(pool: market.pool)
            let secondClient = second.client()
            let secondIdentity = IdentityV1.IdentityService.Client(secondClient)
            let vendor = try await market.onboard(.vendor)
            let staff = try await market.member(of: vendor, role: "VENDOR_STAFF")
            let me = try await secondIdentity.whoAmI(IdentityV1.WhoAmIRequest(), options: staff.callOptions)  // cached there now
            _ = try await market.identity.removeMember(IdentityV1.RemoveMemberRequest(membershipId: me.membership!.id), options: vendor.admin.callOptions)
            var refused = false
            for _ in 0..<250 where !refused {
                do {
                    _ = try await secondIdentity.whoAmI(IdentityV1.WhoAmIRequest(), options: staff.callOptions)
                    try await Task.sleep(for: .milliseconds(20))
                } catch let error as RPCError {
                    refused = error.code == .unauthenticated
                }
            }
            #expect(refused, "the other process heard of the removal (well before its cache entry expired)")
            await secondClient.close()
            await second.stop()
        }
    }

    @Test func withEdDSAConfiguredTokensAreEd25519SignedAndHMACOnesAreRefused() async throws {
        let seed = Array(repeating: UInt8(9), count: 32)
        try await TestMarketplace.run({ $0.identity.tokenAlgorithm = .edDSA; $0.identity.tokenSigningKey = seed }) { market in
            let platform = try await market.platformAdmin()
            #expect(TestTokens.header(of: platform.accessToken)["alg"] as? String == "EdDSA")
            let signature = Data(base64Encoded: TestTokens.padded(String(platform.accessToken.split(separator: ".")[2])))!
            let input = platform.accessToken.split(separator: ".").prefix(2).joined(separator: ".")
            let key = try Curve25519.Signing.PrivateKey(rawRepresentation: seed).publicKey
            #expect(key.isValidSignature(signature, for: Data(input.utf8)), "a standard Ed25519 verifier accepts it")
            _ = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: platform.callOptions)
            let claims = TestTokens.claims(of: platform.accessToken)
            for forged in [
                TestTokens.token(header: TestTokens.hs256, claims: claims, key: seed),
                TestTokens.token(header: ["alg": "EdDSA"], claims: claims, key: seed),
                TestTokens.token(header: ["alg": "none"], claims: claims, key: nil),
            ] {
                await expectCode(.unauthenticated) {
                    _ = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: Self.bearer(forged))
                }
            }
        }
    }

    static func email(of session: TestSession, _ market: TestMarketplace) async throws -> String {
        try await market.pool.query("SELECT email FROM identity.users WHERE id = \(session.userID)::uuid").single().decode(String.self, "email")
    }
}
