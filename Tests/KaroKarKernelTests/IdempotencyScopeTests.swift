import Foundation
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// Whose an idempotency key is (issue 19, finding 7): a principal's, for the organization it acts
/// for; an anonymous caller's, for the request it sends. Over TCP, against the real server.
@Suite("Kernel: idempotency scopes", .serialized)
struct IdempotencyScopeTests {
    static func anonymous(key: String) -> CallOptions {
        CallOptions(timeout: .seconds(30), metadata: Metadata([("idempotency-key", key)]))
    }

    @Test func anonymousCallersDoNotShareKeys() async throws {
        try await TestMarketplace.run { market in
            let first = try await market.register(.vendor, name: "First Fleet", email: "first@example.com", options: Self.anonymous(key: "k-1"))
            let retry = try await market.register(.vendor, name: "First Fleet", email: "first@example.com", options: Self.anonymous(key: "k-1"))
            #expect(retry.organization?.id == first.organization?.id, "the same request with the same key is a retry")
            let other = try await market.register(.vendor, name: "Second Fleet", email: "second@example.com", options: Self.anonymous(key: "k-1"))
            #expect(other.organization?.id != first.organization?.id, "another caller's key does not hand out the first caller's result")
            #expect(other.organization?.name == "Second Fleet" && other.adminUser?.email == "second@example.com")
        }
    }

    @Test func aUserInTwoOrganizationsHasAScopeInEach() async throws {
        try await TestMarketplace.run { market in
            let home = try await market.onboard(.vendor, name: "Home Vendor")
            let away = try await market.onboard(.vendor, name: "Away Vendor")
            let adminRole = try await market.roleID("VENDOR_ADMIN", type: .vendor)
            _ = try await market.identity.addMember(
                IdentityV1.AddMemberRequest(roleId: adminRole, user: .email(home.adminEmail)), options: away.admin.callOptions
            )
            let awaySession = try await market.login(home.adminEmail, organization: away.id)
            let request = IdentityV1.CreateServiceAccountRequest(name: "exporter", permissions: ["vehicle.read"])
            let atHome = try await market.identity.createServiceAccount(request, options: home.admin.options(idempotencyKey: "sa"))
            let atAway = try await market.identity.createServiceAccount(request, options: awaySession.options(idempotencyKey: "sa"))
            #expect(atHome.serviceAccount?.organizationId == home.id)
            #expect(atAway.serviceAccount?.organizationId == away.id, "acting for another organization, the key starts afresh")
            #expect(atAway.serviceAccount?.id != atHome.serviceAccount?.id)
            let retry = try await market.identity.createServiceAccount(request, options: awaySession.options(idempotencyKey: "sa"))
            #expect(retry.serviceAccount?.id == atAway.serviceAccount?.id)
        }
    }
}
