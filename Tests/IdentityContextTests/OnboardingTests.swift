import Foundation
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// Registration (the public onboarding entry), approval, first login, over TCP on a real database.
@Suite("Identity: onboarding", .serialized)
struct OnboardingTests {
    @Test func registeredOrganizationWaitsForApprovalThenItsAdminSignsIn() async throws {
        try await TestMarketplace.run { market in
            let registered = try await market.register(.vendor, name: "Rao Rentals")
            #expect(registered.organization?.status == .pending)
            #expect(registered.organization?.metadata == ["region": "IN-KA"])
            #expect(registered.adminMembership?.roleName == "VENDOR_ADMIN")
            #expect(registered.adminMembership?.status == .active)

            let pendingAdmin = try await market.login(registered.adminUser!.email)
            let before = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: pendingAdmin.callOptions)
            #expect(before.organization?.status == .pending)
            #expect(!before.permissions.contains("vehicle.create"), "a pending organization onboards; it does not list vehicles yet")
            #expect(before.permissions.contains("member.manage"))

            let platform = try await market.platformAdmin()
            let approved = try await market.administration.approveOrganization(
                AdministrationV1.ApproveOrganizationRequest(organizationId: registered.organization!.id, expectedVersion: CommonV1.Int64Value(value: 1)),
                options: platform.callOptions
            )
            #expect(approved.organization?.status == .active)
            #expect(approved.approval?.status == .approved)

            let admin = try await market.login(registered.adminUser!.email)
            let me = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: admin.callOptions)
            #expect(me.principalType == .user)
            #expect(me.user?.email == registered.adminUser?.email)
            #expect(me.organization?.status == .active)
            #expect(me.organization?.version == 2)
            #expect(me.permissions == me.permissions.sorted())
            #expect(Set(me.permissions) == [
                "organization.read", "member.manage", "member.read", "vehicle.create", "vehicle.read", "vehicle.update", "vehicle.suspend",
                "booking.read", "booking.approve", "verification.submit", "verification.read", "audit.read", "notification.read",
            ])
        }
    }

    @Test func sixteenConcurrentRegistrationsOfOneEmailHaveOneWinner() async throws {
        try await TestMarketplace.run { market in
            let email = "Contested.Address@Example.com"
            let outcomes = await withTaskGroup(of: Result<String, RPCError>.self) { group in
                for index in 0..<16 {
                    group.addTask {
                        do {
                            let response = try await market.register(index % 2 == 0 ? .vendor : .corporate, email: index % 3 == 0 ? email : email.lowercased())
                            return .success(response.adminUser!.id)
                        } catch let error as RPCError {
                            return .failure(error)
                        } catch {
                            return .failure(RPCError(.unknown, "\(error)"))
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let winners = outcomes.compactMap { try? $0.get() }
            let losers = outcomes.compactMap { outcome -> RPCError? in
                if case .failure(let error) = outcome { return error }
                return nil
            }
            #expect(winners.count == 1)
            #expect(losers.count == 15)
            #expect(losers.allSatisfy { $0.code == .alreadyExists && $0.domainCode == "DUPLICATE_EMAIL" }, "\(losers)")
            let users = try await market.pool.query("SELECT count(*) AS n FROM identity.users WHERE lower(email) = lower(\(email))")
            #expect(try users.single().decode(Int.self, "n") == 1)
            let organizations = try await market.pool.query("SELECT count(*) AS n FROM identity.organizations WHERE type <> 'PLATFORM'")
            #expect(try organizations.single().decode(Int.self, "n") == 1, "the losers' organizations rolled back with them")
        }
    }

    @Test func registrationWithOneIdempotencyKeyHappensOnce() async throws {
        try await TestMarketplace.run { market in
            let options = CallOptions(metadata: Metadata([("idempotency-key", "register-once-7")]))
            let first = try await market.register(.corporate, name: "Acme", email: "ops@acme.example", options: options)
            let second = try await market.register(.corporate, name: "Acme", email: "ops@acme.example", options: options)
            #expect(first == second)
            let count = try await market.pool.query("SELECT count(*) AS n FROM identity.organizations WHERE name = 'Acme'").single()
            #expect(try count.decode(Int.self, "n") == 1)
            let password = try await market.pool.query("SELECT count(*) AS n FROM karokar_kernel.idempotency WHERE key = 'register-once-7'").single()
            #expect(try password.decode(Int.self, "n") == 1)
        }
    }

    @Test func registrationEventsAreInTheOutboxAndTheApprovalIsOpen() async throws {
        try await TestMarketplace.run { market in
            let registered = try await market.register(.vendor)
            let id = registered.organization!.id
            let events = try await market.pool.query("""
                SELECT event_type FROM karokar_events.outbox WHERE organization_id = \(id)::uuid ORDER BY seq
                """).map { try $0.decode(String.self, "event_type") }
            #expect(events == ["organization.registered", "user.created", "member.added"])
            let approvals = try await market.pool.query("""
                SELECT status FROM administration.approvals WHERE organization_id = \(id)::uuid
                """).map { try $0.decode(String.self, "status") }
            #expect(approvals == ["PENDING"])
        }
    }

    @Test func badRegistrationsAreRefusedFieldByFieldAndChangeNothing() async throws {
        try await TestMarketplace.run { market in
            do {
                _ = try await market.identity.registerOrganization(IdentityV1.RegisterOrganizationRequest(
                    organizationName: "  ", organizationType: .platform, metadata: ["BAD KEY": "x"], adminFirstName: "",
                    adminLastName: String(repeating: "x", count: 101), adminEmail: "not-an-email",
                    adminPhone: CommonV1.StringValue(value: "12345"), adminPassword: "short"
                ))
                Issue.record("must be refused")
            } catch let error as RPCError {
                #expect(error.code == .invalidArgument)
                let fields = Set(error.fieldViolations.map(\.field))
                #expect(fields == [
                    "organizationName", "organizationType", "metadata.key", "adminFirstName", "adminLastName", "adminEmail", "adminPhone",
                    "adminPassword",
                ])
                #expect(error.fieldViolations.first { $0.field == "adminPassword" }?.code == "WEAK_PASSWORD")
            }
            let count = try await market.pool.query("SELECT count(*) AS n FROM identity.users").single()
            #expect(try count.decode(Int.self, "n") == 1, "only the bootstrapped platform administrator")
        }
    }
}
