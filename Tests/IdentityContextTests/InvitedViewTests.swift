import Foundation
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import Testing

/// Issue 19, finding 5: an organization sees a user's names and phone only through a membership
/// the user accepted; an invitation the user never accepted shows the e-mail only, whatever
/// becomes of the membership (removed included), in ListMembers, ListUsers and GetUser.
@Suite("Identity: what an organization sees of a user it invited", .serialized)
struct InvitedViewTests {
    /// A vendor whose administrator has a phone number, approved and signed in.
    static func victim(_ market: TestMarketplace) async throws -> (email: String, userID: String) {
        let tag = UUID().uuidString.prefix(8).lowercased()
        let registered = try await market.identity.registerOrganization(IdentityV1.RegisterOrganizationRequest(
            organizationName: "V1 \(tag)", organizationType: .vendor, adminFirstName: "Meera", adminLastName: "Iyer",
            adminEmail: "meera-\(tag)@example.com", adminPhone: CommonV1.StringValue(value: "+919812345678"), adminPassword: TestMarketplace.password
        ))
        return (registered.adminUser!.email, registered.adminUser!.id)
    }

    static func isInvitedView(_ user: IdentityV1.User?, email: String) -> Bool {
        user?.email == email && user?.firstName == "" && user?.lastName == "" && user?.phone == nil
    }

    /// Another vendor invites the victim (by e-mail) as staff.
    struct Invitation {
        let victim: (email: String, userID: String)
        let inviter: TestOrganization
        let staffRole: String
        let membership: IdentityV1.Membership
    }

    static func invitation(_ market: TestMarketplace) async throws -> Invitation {
        let victim = try await Self.victim(market)
        let inviter = try await market.onboard(.vendor)
        let staffRole = try await market.roleID("VENDOR_STAFF", type: .vendor)
        let invited = try await market.identity.addMember(
            IdentityV1.AddMemberRequest(roleId: staffRole, user: .email(victim.email)), options: inviter.admin.callOptions
        )
        return Invitation(victim: victim, inviter: inviter, staffRole: staffRole, membership: invited.membership!)
    }

    @Test func aRemovedInvitationStillShowsTheEmailOnly() async throws {
        try await TestMarketplace.run { market in
            let invitation = try await Self.invitation(market)
            let (victim, staffRole, invited) = (invitation.victim, invitation.staffRole, invitation.membership)
            let id = market.identity
            let options = invitation.inviter.admin.callOptions
            _ = try await id.removeMember(IdentityV1.RemoveMemberRequest(membershipId: invited.id), options: options)
            let removed = try await id.listMembers(IdentityV1.ListMembersRequest(statuses: [.removed]), options: options)
            #expect(removed.members.map { $0.membership!.id } == [invited.id])
            #expect(Self.isInvitedView(removed.members.first?.user, email: victim.email), "\(String(describing: removed.members.first?.user))")

            // Invited again (by id: a past member): still the e-mail only, everywhere.
            let again = try await id.addMember(IdentityV1.AddMemberRequest(roleId: staffRole, user: .userId(victim.userID)), options: options).membership!
            let everyone = try await id.listMembers(IdentityV1.ListMembersRequest(statuses: [.invited, .active, .removed]), options: options)
            for member in everyone.members where member.user?.id == victim.userID {
                #expect(Self.isInvitedView(member.user, email: victim.email), "\(member)")
            }
            let user = try await id.getUser(IdentityV1.GetUserRequest(userId: victim.userID), options: options).user
            #expect(Self.isInvitedView(user, email: victim.email))
            let listed = try await id.listUsers(IdentityV1.ListUsersRequest(), options: options).users.filter { $0.id == victim.userID }
            #expect(listed.count == 1 && Self.isInvitedView(listed.first, email: victim.email))
            let byName = try await id.listUsers(IdentityV1.ListUsersRequest(query: CommonV1.StringValue(value: "Iye")), options: options)
            #expect(byName.users.isEmpty, "names are not searchable through an invitation")
            _ = try await id.removeMember(IdentityV1.RemoveMemberRequest(membershipId: again.id), options: options)
        }
    }

    @Test func anAcceptedMembershipShowsTheUserAlsoOnceRemoved() async throws {
        try await TestMarketplace.run { market in
            let invitation = try await Self.invitation(market)
            let options = invitation.inviter.admin.callOptions
            _ = try await market.login(invitation.victim.email, organization: invitation.inviter.id)  // accepts
            _ = try await market.identity.removeMember(IdentityV1.RemoveMemberRequest(membershipId: invitation.membership.id), options: options)
            let removed = try await market.identity.listMembers(IdentityV1.ListMembersRequest(statuses: [.removed]), options: options)
            #expect(removed.members.first?.user?.firstName == "Meera")
            #expect(removed.members.first?.user?.phone?.value == "+919812345678")
        }
    }

    /// Migration 3 backfills `accepted_at` erring toward privacy: a removed membership counts as
    /// accepted only when the user signed in for it or it is their first (the organization
    /// created them).
    @Test func theMigrationBackfillsAcceptanceSafely() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        try await MigrationRunner.migrate(Database.migrations.filter { $0.context != "identity" || $0.version < 3 }, pool: pool)
        let vendorAdmin = "4fabe587-cfbd-44a9-947b-f70ab6091f57"
        let home = UUID(), other = UUID(), user = UUID(), stranger = UUID()
        let memberships = (first: UUID(), active: UUID(), invited: UUID(), removedInvited: UUID(), removedSignedIn: UUID())
        try await pool.query("""
            INSERT INTO identity.organizations (id, name, type, status) VALUES (\(home), 'Home', 'VENDOR', 'ACTIVE'), (\(other), 'Other', 'VENDOR', 'ACTIVE')
            """)
        try await pool.query("""
            INSERT INTO identity.users (id, first_name, last_name, email, status, password_hash)
            VALUES (\(user), 'A', 'B', 'a@example.com', 'ACTIVE', 'x'), (\(stranger), 'C', 'D', 'c@example.com', 'ACTIVE', 'x')
            """)
        for (id, who, organization, status, minutesAgo) in [
            (memberships.first, user, home, "REMOVED", 50), (memberships.active, user, other, "ACTIVE", 40),
            (memberships.invited, stranger, home, "INVITED", 30), (memberships.removedInvited, stranger, other, "REMOVED", 20),
        ] as [(UUID, UUID, UUID, String, Int)] {
            try await pool.query("""
                INSERT INTO identity.memberships (id, user_id, organization_id, role_id, status, created_at)
                VALUES (\(id), \(who), \(organization), \(vendorAdmin)::uuid, \(status), clock_timestamp() - make_interval(mins => \(minutesAgo)))
                """)
        }
        // The stranger's first membership is the invitation above; one more, removed, that they signed in for.
        try await pool.query("""
            INSERT INTO identity.memberships (id, user_id, organization_id, role_id, status, created_at)
            VALUES (\(memberships.removedSignedIn), \(stranger), \(other), \(vendorAdmin)::uuid, 'REMOVED', clock_timestamp() - interval '10 minutes')
            """)
        try await pool.query("""
            INSERT INTO identity.refresh_tokens (token_hash, family_id, membership_id, user_id, expires_at)
            VALUES ('\\x01'::bytea, \(UUID()), \(memberships.removedSignedIn), \(stranger), clock_timestamp())
            """)
        try await MigrationRunner.migrate(Database.migrations, pool: pool)
        let accepted = try await pool.query("SELECT id, accepted_at IS NOT NULL AS accepted FROM identity.memberships").map {
            (try $0.decode(UUID.self, "id"), try $0.decode(Bool.self, "accepted"))
        }
        let byID = Dictionary(uniqueKeysWithValues: accepted)
        #expect(byID[memberships.first] == true, "the organization that created the user")
        #expect(byID[memberships.active] == true)
        #expect(byID[memberships.invited] == false)
        #expect(byID[memberships.removedInvited] == false, "removed before anyone knows it was accepted")
        #expect(byID[memberships.removedSignedIn] == true, "the user signed in for it")
        let details = try await pool.query("SELECT count(*)::int AS n FROM identity.membership_details WHERE accepted_at IS NOT NULL").single()
        #expect(try details.decode(Int.self, "n") == 3, "the view shows the new column")
        await pool.close()
    }
}
