import Foundation
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// Tenant isolation as an attacker tries it: an administrator of one vendor (holding
/// member.manage and member.read) aims every Identity and Administration RPC at another vendor's
/// organization, users, memberships and service account. Every answer is NOT_FOUND (or, for
/// platform-only verbs, PERMISSION_DENIED); nothing changes.
@Suite("Identity: tenant isolation", .serialized)
struct TenantIsolationTests {
    struct Victim {
        let organization: TestOrganization
        let staff: TestSession
        let staffMembership: String
        let adminMembership: String
        let serviceAccount: String
    }

    static func victim(_ market: TestMarketplace) async throws -> Victim {
        let organization = try await market.onboard(.vendor, name: "Victim Vehicles")
        let staff = try await market.member(of: organization, role: "VENDOR_STAFF")
        let members = try await market.identity.listMembers(IdentityV1.ListMembersRequest(), options: organization.admin.callOptions)
        let account = try await market.identity.createServiceAccount(IdentityV1.CreateServiceAccountRequest(
            name: "victim-worker", permissions: ["member.read"]
        ), options: organization.admin.callOptions)
        return Victim(
            organization: organization, staff: staff,
            staffMembership: members.members.first { $0.user?.id == staff.userID }!.membership!.id,
            adminMembership: members.members.first { $0.user?.id == organization.admin.userID }!.membership!.id,
            serviceAccount: account.serviceAccount!.id
        )
    }

    @Test func anotherTenantsIdsAreNotFoundInEveryReadAndWriteAndNothingChanges() async throws {
        try await TestMarketplace.run { market in
            let attacker = try await market.onboard(.vendor, name: "Attacker Autos")
            let victim = try await Self.victim(market)
            let a = attacker.admin.callOptions
            let id = market.identity
            let b = victim.organization.id
            let staffRole = try await market.roleID("VENDOR_STAFF", type: .vendor)
            let adminRole = try await market.roleID("VENDOR_ADMIN", type: .vendor)
            let before = try await TableSnapshot.take(market.pool)

            // Reads.
            await expectCode(.notFound) { _ = try await id.getOrganization(IdentityV1.GetOrganizationRequest(organizationId: b), options: a) }
            for user in [victim.organization.admin.userID, victim.staff.userID] {
                await expectCode(.notFound) { _ = try await id.getUser(IdentityV1.GetUserRequest(userId: user), options: a) }
            }
            await expectCode(.notFound) { _ = try await id.listUsers(IdentityV1.ListUsersRequest(organizationId: b), options: a) }
            await expectCode(.notFound) { _ = try await id.listMembers(IdentityV1.ListMembersRequest(organizationId: b), options: a) }
            await expectCode(.notFound) { _ = try await id.listServiceAccounts(IdentityV1.ListServiceAccountsRequest(organizationId: b), options: a) }
            await expectCode(.notFound) {
                _ = try await id.getServiceAccount(IdentityV1.GetServiceAccountRequest(serviceAccountId: victim.serviceAccount), options: a)
            }
            let visible = try await id.listOrganizations(IdentityV1.ListOrganizationsRequest(), options: a)
            #expect(visible.organizations.map(\.id) == [attacker.id])
            let children = try await id.listOrganizations(
                IdentityV1.ListOrganizationsRequest(parentOrganizationId: CommonV1.StringValue(value: b)), options: a
            )
            #expect(children.organizations.isEmpty)
            let ownUsers = try await id.listUsers(IdentityV1.ListUsersRequest(), options: a)
            #expect(ownUsers.users.map(\.id) == [attacker.admin.userID])

            // Writes.
            await expectCode(.notFound) {
                _ = try await id.createUser(IdentityV1.CreateUserRequest(
                    organizationId: b, firstName: "Mal", lastName: "Lory", email: "mallory@example.com", password: TestMarketplace.password,
                    roleId: staffRole
                ), options: a)
            }
            await expectCode(.notFound) {
                _ = try await id.addMember(IdentityV1.AddMemberRequest(organizationId: b, roleId: staffRole, user: .email(attacker.adminEmail)), options: a)
            }
            await expectCode(.notFound) {
                _ = try await id.addMember(IdentityV1.AddMemberRequest(roleId: staffRole, user: .userId(victim.staff.userID)), options: a)
            }
            await expectCode(.notFound) {
                _ = try await id.changeMemberRole(IdentityV1.ChangeMemberRoleRequest(membershipId: victim.staffMembership, roleId: adminRole), options: a)
            }
            await expectCode(.notFound) { _ = try await id.removeMember(IdentityV1.RemoveMemberRequest(membershipId: victim.adminMembership), options: a) }
            await expectCode(.notFound) {
                _ = try await id.createServiceAccount(IdentityV1.CreateServiceAccountRequest(organizationId: b, name: "x", permissions: ["member.read"]), options: a)
            }
            await expectCode(.notFound) {
                _ = try await id.rotateServiceAccountSecret(IdentityV1.RotateServiceAccountSecretRequest(serviceAccountId: victim.serviceAccount), options: a)
            }
            await expectCode(.notFound) {
                _ = try await id.revokeServiceAccount(IdentityV1.RevokeServiceAccountRequest(serviceAccountId: victim.serviceAccount), options: a)
            }
            await expectDenied { _ = try await id.disableUser(IdentityV1.DisableUserRequest(userId: victim.staff.userID, reason: "x"), options: a) }
            await expectDenied {
                _ = try await market.administration.suspendOrganization(AdministrationV1.SuspendOrganizationRequest(organizationId: b, notes: "x"), options: a)
            }
            await expectDenied {
                _ = try await market.administration.disableUser(AdministrationV1.DisableUserRequest(userId: victim.staff.userID, reason: "x"), options: a)
            }
            await expectDenied {
                _ = try await market.administration.getApprovalHistory(AdministrationV1.GetApprovalHistoryRequest(organizationId: b), options: a)
            }
            // Logging out someone else's refresh token does nothing to it.
            _ = try await id.logout(IdentityV1.LogoutRequest(refreshToken: victim.staff.refreshToken), options: a)

            let after = try await TableSnapshot.take(market.pool)
            #expect(after == before, "zero changes: \(after.filter { before[$0.key] != $0.value }.keys.sorted())")
            _ = try await id.refreshToken(IdentityV1.RefreshTokenRequest(refreshToken: victim.staff.refreshToken))
            let victimView = try await id.getUser(IdentityV1.GetUserRequest(userId: victim.staff.userID), options: victim.organization.admin.callOptions)
            #expect(victimView.user?.firstName == "Ravi", "the victim still sees its own member")
        }
    }

    @Test func aServiceAccountReachesOnlyItsOwnOrganization() async throws {
        try await TestMarketplace.run { market in
            let attacker = try await market.onboard(.corporate)
            let victim = try await Self.victim(market)
            let created = try await market.identity.createServiceAccount(IdentityV1.CreateServiceAccountRequest(
                name: "scraper", permissions: ["member.read", "organization.read"]
            ), options: attacker.admin.callOptions)
            let exchanged = try await market.identity.exchangeServiceAccountToken(IdentityV1.ExchangeServiceAccountTokenRequest(
                serviceAccountId: created.serviceAccount!.id, secret: created.secret
            ))
            let options = TestSession(accessToken: exchanged.accessToken, userID: "", organizationID: attacker.id).callOptions
            await expectCode(.notFound) {
                _ = try await market.identity.listMembers(IdentityV1.ListMembersRequest(organizationId: victim.organization.id), options: options)
            }
            await expectCode(.notFound) { _ = try await market.identity.getUser(IdentityV1.GetUserRequest(userId: victim.staff.userID), options: options) }
            let own = try await market.identity.listMembers(IdentityV1.ListMembersRequest(), options: options)
            #expect(own.members.map { $0.user?.id } == [attacker.admin.userID])
        }
    }
}
