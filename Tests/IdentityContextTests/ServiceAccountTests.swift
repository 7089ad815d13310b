import Foundation
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// Service accounts: an explicit permission set within the creator's, a secret shown once,
/// their own token exchange, rotation and revocation ending old tokens.
@Suite("Identity: service accounts", .serialized)
struct ServiceAccountTests {
    static func exchange(_ market: TestMarketplace, _ id: String, _ secret: String) async throws -> TestSession {
        let token = try await market.identity.exchangeServiceAccountToken(
            IdentityV1.ExchangeServiceAccountTokenRequest(serviceAccountId: id, secret: secret)
        )
        return TestSession(accessToken: token.accessToken, userID: id, organizationID: token.organizationId)
    }

    @Test func anAccountActsWithExactlyItsPermissionsAndItsSecretIsStoredNowhere() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let created = try await market.identity.createServiceAccount(IdentityV1.CreateServiceAccountRequest(
                name: "booking-worker", description: CommonV1.StringValue(value: "reads members"), permissions: ["member.read", "organization.read"]
            ), options: vendor.admin.options(idempotencyKey: "sa-1"))
            let account = created.serviceAccount!
            #expect(created.secret.utf8.count == 43)
            #expect(account.createdBy == vendor.admin.userID)
            #expect(account.permissions == ["member.read", "organization.read"])
            let session = try await Self.exchange(market, account.id, created.secret)
            #expect(session.organizationID == vendor.id)
            let me = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: session.callOptions)
            #expect(me.principalType == .serviceAccount)
            #expect(me.serviceAccount?.id == account.id)
            #expect(me.user == nil)
            #expect(me.permissions == ["member.read", "organization.read"])
            _ = try await market.identity.listMembers(IdentityV1.ListMembersRequest(), options: session.callOptions)
            await expectDenied {
                _ = try await market.identity.createUser(IdentityV1.CreateUserRequest(firstName: "a"), options: session.callOptions)
            }
            let retried = try await market.identity.createServiceAccount(IdentityV1.CreateServiceAccountRequest(
                name: "booking-worker", description: CommonV1.StringValue(value: "reads members"), permissions: ["member.read", "organization.read"]
            ), options: vendor.admin.options(idempotencyKey: "sa-1"))
            #expect(retried.serviceAccount == account)
            #expect(retried.secret.isEmpty, "a secret is shown once, even to a retry")
            let leaks = try await market.pool.query("""
                SELECT (SELECT count(*) FROM karokar_kernel.idempotency WHERE position(convert_to(\(created.secret), 'UTF8') IN response) > 0)
                     + (SELECT count(*) FROM karokar_events.outbox WHERE position(convert_to(\(created.secret), 'UTF8') IN envelope) > 0)
                     + (SELECT count(*) FROM identity.service_accounts WHERE position(convert_to(\(created.secret), 'UTF8') IN secret_hash) > 0) AS n
                """).single()
            #expect(try leaks.decode(Int.self, "n") == 0)
            let accounts = try await market.identity.listServiceAccounts(IdentityV1.ListServiceAccountsRequest(), options: vendor.admin.callOptions)
            #expect(accounts.serviceAccounts.map(\.id) == [account.id])
        }
    }

    @Test func grantsStayWithinTheCallersPermissionsAndTheOrganizationsRoles() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let platform = try await market.platformAdmin()
            await expectDenied {
                _ = try await market.identity.createServiceAccount(
                    IdentityV1.CreateServiceAccountRequest(name: "x", permissions: ["booking.create"]), options: vendor.admin.callOptions
                )
            }
            await expectDenied {
                _ = try await market.identity.createServiceAccount(
                    IdentityV1.CreateServiceAccountRequest(organizationId: vendor.id, name: "x", permissions: ["organization.approve"]),
                    options: platform.callOptions
                )
            }
            await expectCode(.invalidArgument) {
                _ = try await market.identity.createServiceAccount(
                    IdentityV1.CreateServiceAccountRequest(name: "x", permissions: ["fleet.everything"]), options: vendor.admin.callOptions
                )
            }
            let placed = try await market.identity.createServiceAccount(
                IdentityV1.CreateServiceAccountRequest(organizationId: vendor.id, name: "ops", permissions: ["member.read"]), options: platform.callOptions
            )
            #expect(placed.serviceAccount?.organizationId == vendor.id, "platform administrators act across tenants")
            await expectCode(.alreadyExists, domainCode: "DUPLICATE_SERVICE_ACCOUNT") {
                _ = try await market.identity.createServiceAccount(
                    IdentityV1.CreateServiceAccountRequest(name: "OPS", permissions: ["member.read"]), options: vendor.admin.callOptions
                )
            }
        }
    }

    @Test func rotationAndRevocationEndOldSecretsAndTokens() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let created = try await market.identity.createServiceAccount(
                IdentityV1.CreateServiceAccountRequest(name: "sync", permissions: ["organization.read"]), options: vendor.admin.callOptions
            )
            let id = created.serviceAccount!.id
            let old = try await Self.exchange(market, id, created.secret)
            _ = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: old.callOptions)
            let rotated = try await market.identity.rotateServiceAccountSecret(
                IdentityV1.RotateServiceAccountSecretRequest(serviceAccountId: id, expectedVersion: CommonV1.Int64Value(value: 1)),
                options: vendor.admin.callOptions
            )
            #expect(rotated.serviceAccount?.version == 2)
            #expect(!rotated.secret.isEmpty && rotated.secret != created.secret)
            await expectCode(.unauthenticated) { _ = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: old.callOptions) }
            await expectCode(.unauthenticated) { _ = try await Self.exchange(market, id, created.secret) }
            let current = try await Self.exchange(market, id, rotated.secret)
            _ = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: current.callOptions)

            let revoked = try await market.identity.revokeServiceAccount(
                IdentityV1.RevokeServiceAccountRequest(serviceAccountId: id, reason: CommonV1.StringValue(value: "retired")),
                options: vendor.admin.callOptions
            )
            #expect(revoked.serviceAccount?.status == .revoked)
            await expectCode(.unauthenticated) { _ = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: current.callOptions) }
            await expectCode(.unauthenticated) { _ = try await Self.exchange(market, id, rotated.secret) }
            await expectCode(.failedPrecondition, domainCode: "SERVICE_ACCOUNT_REVOKED") {
                _ = try await market.identity.rotateServiceAccountSecret(IdentityV1.RotateServiceAccountSecretRequest(serviceAccountId: id), options: vendor.admin.callOptions)
            }
            let events = try await market.pool.query("""
                SELECT event_type FROM karokar_events.outbox WHERE aggregate_type = 'service_account' ORDER BY seq
                """).map { try $0.decode(String.self, "event_type") }
            #expect(events == ["service_account.created", "service_account.secret_rotated", "service_account.revoked"])
        }
    }
}
