import Foundation
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// Members: invitations and their acceptance, roles of the right type, the last administrator,
/// optimistic concurrency, idempotent retries, and the events of each verb.
@Suite("Identity: members", .serialized)
struct MembershipTests {
    @Test func anInvitedUserIsSeenByEmailOnlyUntilTheyAcceptByLoggingIn() async throws {
        try await TestMarketplace.run { market in
            let inviting = try await market.onboard(.corporate)
            let home = try await market.onboard(.vendor)
            let staff = try await market.member(of: home, role: "VENDOR_STAFF")
            let email = try await ForgedTokenTests.email(of: staff, market)
            let employee = try await market.roleID("EMPLOYEE", type: .corporate)
            let added = try await market.identity.addMember(
                IdentityV1.AddMemberRequest(roleId: employee, user: .email(email.uppercased())), options: inviting.admin.callOptions
            )
            #expect(added.membership?.status == .invited)
            let seen = try await market.identity.getUser(IdentityV1.GetUserRequest(userId: staff.userID), options: inviting.admin.callOptions)
            #expect(seen.user?.email == email)
            #expect(seen.user?.firstName == "" && seen.user?.lastName == "" && seen.user?.phone == nil)
            #expect(try await market.login(email).organizationID == home.id, "an invitation is not an ACTIVE membership yet")
            let mine = try await market.identity.listMyMemberships(IdentityV1.ListMyMembershipsRequest(), options: staff.callOptions)
            #expect(Set(mine.memberships.map { $0.organization!.id }) == [home.id, inviting.id])

            let accepted = try await market.login(email, organization: inviting.id)
            #expect(accepted.organizationID == inviting.id)
            let me = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: accepted.callOptions)
            #expect(me.membership?.status == .active)
            #expect(Set(me.permissions) == DomainRoleTable.roles["EMPLOYEE"]!.permissions)
            await expectCode(.failedPrecondition, domainCode: "ORGANIZATION_REQUIRED") { _ = try await market.login(email) }
            let now = try await market.identity.getUser(IdentityV1.GetUserRequest(userId: staff.userID), options: inviting.admin.callOptions)
            #expect(now.user?.firstName == "Ravi")
            let events = try await market.pool.query("""
                SELECT event_type FROM karokar_events.outbox WHERE aggregate_id = \(added.membership!.id) ORDER BY seq
                """).map { try $0.decode(String.self, "event_type") }
            #expect(events == ["member.added", "member.activated"])
        }
    }

    @Test func membershipsAreUniqueAndRolesMustFitTheOrganization() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let staff = try await market.member(of: vendor, role: "VENDOR_STAFF")
            let platform = try await market.platformAdmin()
            let staffRole = try await market.roleID("VENDOR_STAFF", type: .vendor)
            let employee = try await market.roleID("EMPLOYEE", type: .corporate)
            await expectCode(.alreadyExists, domainCode: "DUPLICATE_MEMBERSHIP") {
                _ = try await market.identity.addMember(IdentityV1.AddMemberRequest(roleId: staffRole, user: .userId(staff.userID)), options: vendor.admin.callOptions)
            }
            await expectCode(.failedPrecondition, domainCode: "ROLE_ORGANIZATION_TYPE_MISMATCH") {
                _ = try await market.identity.createUser(IdentityV1.CreateUserRequest(
                    firstName: "A", lastName: "B", email: "mismatch@example.com", password: TestMarketplace.password, roleId: employee
                ), options: vendor.admin.callOptions)
            }
            await expectCode(.failedPrecondition, domainCode: "ROLE_ORGANIZATION_TYPE_MISMATCH") {
                _ = try await market.identity.addMember(
                    IdentityV1.AddMemberRequest(organizationId: vendor.id, roleId: employee, user: .userId(platform.userID)), options: platform.callOptions
                )
            }
            await expectCode(.alreadyExists, domainCode: "DUPLICATE_EMAIL") {
                _ = try await market.identity.createUser(IdentityV1.CreateUserRequest(
                    firstName: "A", lastName: "B", email: vendor.adminEmail.uppercased(), password: TestMarketplace.password, roleId: staffRole
                ), options: vendor.admin.callOptions)
            }
            let added = try await market.identity.addMember(
                IdentityV1.AddMemberRequest(organizationId: vendor.id, roleId: staffRole, user: .userId(platform.userID)), options: platform.callOptions
            )
            #expect(added.membership?.status == .active, "platform administrators add members directly")
        }
    }

    @Test func roleChangesAndRemovalsKeepAnAdministratorAndHonourVersions() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let id = market.identity
            let options = vendor.admin.callOptions
            let adminMembership = try await id.whoAmI(IdentityV1.WhoAmIRequest(), options: options).membership!
            let staffRole = try await market.roleID("VENDOR_STAFF", type: .vendor)
            let adminRole = try await market.roleID("VENDOR_ADMIN", type: .vendor)
            await expectCode(.failedPrecondition, domainCode: "LAST_ADMINISTRATOR") {
                _ = try await id.changeMemberRole(IdentityV1.ChangeMemberRoleRequest(membershipId: adminMembership.id, roleId: staffRole), options: options)
            }
            await expectCode(.failedPrecondition, domainCode: "LAST_ADMINISTRATOR") {
                _ = try await id.removeMember(IdentityV1.RemoveMemberRequest(membershipId: adminMembership.id), options: options)
            }
            let staff = try await market.member(of: vendor, role: "VENDOR_STAFF")
            let staffMembership = try await id.whoAmI(IdentityV1.WhoAmIRequest(), options: staff.callOptions).membership!
            await expectCode(.aborted, domainCode: "STALE_VERSION") {
                _ = try await id.changeMemberRole(IdentityV1.ChangeMemberRoleRequest(
                    membershipId: staffMembership.id, roleId: adminRole, expectedVersion: CommonV1.Int64Value(value: 7)
                ), options: options)
            }
            let promoted = try await id.changeMemberRole(IdentityV1.ChangeMemberRoleRequest(
                membershipId: staffMembership.id, roleId: adminRole, expectedVersion: CommonV1.Int64Value(value: 1)
            ), options: options)
            #expect(promoted.membership?.roleName == "VENDOR_ADMIN")
            #expect(promoted.membership?.version == 2)
            let promotedView = try await id.whoAmI(IdentityV1.WhoAmIRequest(), options: staff.callOptions)
            #expect(promotedView.permissions.contains("member.manage"), "the new role applies to the existing token at once")
            let removed = try await id.removeMember(IdentityV1.RemoveMemberRequest(membershipId: adminMembership.id), options: staff.callOptions)
            #expect(removed.membership?.status == .removed)
            await expectCode(.unauthenticated) { _ = try await id.whoAmI(IdentityV1.WhoAmIRequest(), options: options) }
            await expectCode(.notFound) {
                _ = try await id.removeMember(IdentityV1.RemoveMemberRequest(membershipId: adminMembership.id), options: staff.callOptions)
            }
            let events = try await market.pool.query("""
                SELECT event_type FROM karokar_events.outbox WHERE event_type LIKE 'member.%' AND organization_id = \(vendor.id)::uuid ORDER BY seq
                """).map { try $0.decode(String.self, "event_type") }
            #expect(events == ["member.added", "member.added", "member.role_changed", "member.removed"])
        }
    }

    @Test func aRetriedAddMemberWithTheSameKeyAddsOnce() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let other = try await market.onboard(.corporate)
            let staffRole = try await market.roleID("VENDOR_STAFF", type: .vendor)
            let request = IdentityV1.AddMemberRequest(roleId: staffRole, user: .email(other.adminEmail))
            let options = vendor.admin.options(idempotencyKey: "add-once")
            let first = try await market.identity.addMember(request, options: options)
            let second = try await market.identity.addMember(request, options: options)
            #expect(first == second)
            let rows = try await market.pool.query("SELECT count(*) AS n FROM identity.memberships WHERE organization_id = \(vendor.id)::uuid")
            #expect(try rows.single().decode(Int.self, "n") == 2)
            await expectCode(.invalidArgument, domainCode: "IDEMPOTENCY_KEY_REUSED") {
                _ = try await market.identity.addMember(IdentityV1.AddMemberRequest(roleId: staffRole, user: .email("else@example.com")), options: options)
            }
        }
    }
}
