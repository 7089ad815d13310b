import Foundation
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport

/// The people the fuzzer calls as: a victim vendor and corporate with members, a vehicle and a
/// service account; attackers (another vendor and corporate, an employee, an organization still
/// PENDING, nobody); and the platform administrator. Made over the wire, as any client would.
struct FuzzCast {
    struct Role {
        let name: String
        var options: CallOptions
        /// The role's own ids, for the fields of a plausible request.
        var own = OwnIDs()
        /// How to sign in again (a fuzzed call may end the role's session: a logout, a removal).
        var session: Session?

        init(name: String, options: CallOptions, own: OwnIDs = OwnIDs()) {
            self.name = name
            self.options = options
            self.own = own
            session = own.session
        }

        /// The role signed in again, when its token was revoked by a call it made.
        func signedInAgain(_ client: RPCClient) async -> Role? {
            guard let session else { return nil }
            let identity = IdentityV1.IdentityService.Client(client)
            guard let fresh = try? await FuzzCast.login(identity, session.email, session.password, organization: session.organization) else { return nil }
            var role = self
            role.options = FuzzCast.options(fresh.token)
            return role
        }
    }

    var attackers: [Role] = []
    var insiders: [Role] = []
    var victimIDs: [String] = []
    var pools = FuzzPools(ids: [], pageTokens: [], emails: [])

    static let password = "correct horse battery staple"

    static func make(_ client: RPCClient) async throws -> FuzzCast {
        let identity = IdentityV1.IdentityService.Client(client)
        let platform = try await login(identity, TestIdentity.adminEmail, TestIdentity.adminPassword)
        var cast = FuzzCast()
        let (victim, victimAdmin) = try await onboard(client, .vendor, "victim-vendor", platform: platform)
        let (victimCorporate, victimCorporateAdmin) = try await onboard(client, .corporate, "victim-corporate", platform: platform)
        let (attackerVendor, attacker) = try await onboard(client, .vendor, "attacker-vendor", platform: platform)
        let (attackerCorporate, attackerCorporateAdmin) = try await onboard(client, .corporate, "attacker-corporate", platform: platform)
        let employee = try await member(identity, of: attackerCorporate, admin: attackerCorporateAdmin, role: "EMPLOYEE", type: .corporate)
        let staff = try await member(identity, of: victim, admin: victimAdmin, role: "VENDOR_STAFF", type: .vendor)
        let pending = try await identity.registerOrganization(registration(.vendor, "pending-vendor"))
        let pendingAdmin = try await login(identity, pending.adminUser!.email, password)
        let vehicle = try await FleetV1.FleetService.Client(client).registerVehicle(
            FleetV1.RegisterVehicleRequest(ownershipType: .vendorOwned, make: "Tata", model: "Nexon", year: 2024, licensePlate: "KA01FZ0001"),
            options: options(victimAdmin.token)
        )
        let account = try await identity.createServiceAccount(
            IdentityV1.CreateServiceAccountRequest(name: "victim-exporter", permissions: ["vehicle.read"]), options: options(victimAdmin.token)
        )
        cast.victimIDs = [victim.organization!.id, victimCorporate.organization!.id, victim.adminUser!.id, victimCorporate.adminUser!.id,
                          vehicle.vehicle!.id, staff.userID]
        let attackerVehicle = try await FleetV1.FleetService.Client(client).registerVehicle(
            FleetV1.RegisterVehicleRequest(ownershipType: .vendorOwned, make: "Tata", model: "Punch", year: 2023, licensePlate: "KA02FZ0002"),
            options: options(attacker.token)
        )
        let vendorRole = try await roleID(identity, "VENDOR_STAFF", admin: attacker)
        let corporateRole = try await roleID(identity, "EMPLOYEE", admin: attackerCorporateAdmin)
        cast.attackers = [
            Role(name: "anonymous", options: CallOptions(timeout: .seconds(20))),
            Role(name: "another vendor's admin", options: options(attacker.token), own: OwnIDs(
                attacker, organization: attackerVendor.organization!.id, role: vendorRole, vehicle: attackerVehicle.vehicle!.id
            )),
            Role(name: "another corporate's admin", options: options(attackerCorporateAdmin.token), own: OwnIDs(
                attackerCorporateAdmin, organization: attackerCorporate.organization!.id, role: corporateRole
            )),
            Role(name: "another corporate's employee", options: options(employee.token), own: OwnIDs(
                employee, organization: attackerCorporate.organization!.id, role: corporateRole
            )),
            Role(name: "a pending organization's admin", options: options(pendingAdmin.token), own: OwnIDs(
                pendingAdmin, organization: pending.organization!.id
            )),
        ]
        cast.insiders = [
            Role(name: "the victim vendor's admin", options: options(victimAdmin.token), own: OwnIDs(
                victimAdmin, organization: victim.organization!.id, vehicle: vehicle.vehicle!.id
            )),
            Role(name: "the victim vendor's staff", options: options(staff.token), own: OwnIDs(
                staff, organization: victim.organization!.id, vehicle: vehicle.vehicle!.id
            )),
            Role(name: "the victim corporate's admin", options: options(victimCorporateAdmin.token), own: OwnIDs(
                victimCorporateAdmin, organization: victimCorporate.organization!.id
            )),
            Role(name: "the platform administrator", options: options(platform.token), own: OwnIDs(platform, organization: "")),
        ]
        let tokens = try await identity.listMembers(IdentityV1.ListMembersRequest(page: CommonV1.PageRequest(pageSize: 1)), options: options(victimAdmin.token))
        cast.pools = FuzzPools(
            ids: cast.victimIDs + [account.serviceAccount!.id, victimAdmin.membership, attacker.membership, UUID().uuidString.lowercased()],
            pageTokens: [tokens.page?.nextPageToken ?? "", forgedToken(micros: Int64.min), forgedToken(micros: -62_135_596_801_000_000)]
                + [flipped(tokens.page?.nextPageToken ?? "")],
            emails: [victim.adminUser!.email, victimCorporate.adminUser!.email, TestIdentity.adminEmail]
        )
        return cast
    }

    static func roleID(_ identity: IdentityV1.IdentityService.Client, _ name: String, admin: Session) async throws -> String {
        try await identity.listRoles(IdentityV1.ListRolesRequest(), options: options(admin.token)).roles.first { $0.name == name }!.id
    }

    /// A page token of the earlier, unsealed format carrying an instant no row can have.
    static func forgedToken(micros: Int64) -> String {
        Data("v1\u{1F}\(micros)\u{1F}\(UUID().uuidString.lowercased())".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func flipped(_ token: String) -> String {
        guard let last = token.last else { return "x" }
        return String(token.dropLast()) + (last == "A" ? "B" : "A")
    }

    struct Session {
        let token: String
        let userID: String
        let membership: String
        let email: String
        let password: String
        let organization: String
    }

    static func options(_ token: String) -> CallOptions {
        CallOptions(timeout: .seconds(20), metadata: Metadata([("authorization", "Bearer \(token)")]))
    }

    static func login(_ identity: IdentityV1.IdentityService.Client, _ email: String, _ password: String, organization: String = "") async throws -> Session {
        let response = try await identity.login(IdentityV1.LoginRequest(email: email, password: password, organizationId: organization))
        let who = try await identity.whoAmI(IdentityV1.WhoAmIRequest(), options: options(response.grant!.accessToken))
        return Session(
            token: response.grant!.accessToken, userID: response.userId, membership: who.membership?.id ?? "", email: email, password: password,
            organization: response.organizationId
        )
    }

    static func registration(_ type: IdentityV1.OrganizationType, _ name: String) -> IdentityV1.RegisterOrganizationRequest {
        IdentityV1.RegisterOrganizationRequest(
            organizationName: name, organizationType: type, adminFirstName: "Fuzz", adminLastName: "Admin",
            adminEmail: "\(name)-\(UUID().uuidString.prefix(6).lowercased())@example.com", adminPassword: password
        )
    }

    static func onboard(
        _ client: RPCClient, _ type: IdentityV1.OrganizationType, _ name: String, platform: Session
    ) async throws -> (IdentityV1.RegisterOrganizationResponse, Session) {
        let identity = IdentityV1.IdentityService.Client(client)
        let registered = try await identity.registerOrganization(registration(type, name))
        _ = try await AdministrationV1.AdministrationService.Client(client).approveOrganization(
            AdministrationV1.ApproveOrganizationRequest(organizationId: registered.organization!.id), options: options(platform.token)
        )
        return (registered, try await login(identity, registered.adminUser!.email, password))
    }

    static func member(
        _ identity: IdentityV1.IdentityService.Client, of organization: IdentityV1.RegisterOrganizationResponse, admin: Session,
        role: String, type: IdentityV1.OrganizationType
    ) async throws -> Session {
        let roles = try await identity.listRoles(IdentityV1.ListRolesRequest(), options: options(admin.token))
        let email = "\(role.lowercased())-\(UUID().uuidString.prefix(6).lowercased())@example.com"
        _ = try await identity.createUser(IdentityV1.CreateUserRequest(
            firstName: "Fuzz", lastName: "Member", email: email, password: password, roleId: roles.roles.first { $0.name == role }!.id
        ), options: options(admin.token))
        return try await login(identity, email, password)
    }
}

/// A role's own ids: what a plausible request of theirs names.
struct OwnIDs: Sendable {
    var session: FuzzCast.Session?
    var organization = ""
    var user = ""
    var membership = ""
    var role = ""
    var vehicle = ""

    init() {}

    init(_ session: FuzzCast.Session, organization: String, role: String = "", vehicle: String = "") {
        self.session = session
        self.organization = organization
        user = session.userID
        membership = session.membership
        self.role = role
        self.vehicle = vehicle
    }

    /// The own id a field of this name most likely wants ("" for none: the caller's own, where allowed).
    func id(for field: String) -> String? {
        switch field {
        case "organization_id", "corporate_organization_id", "vendor_organization_id": organization
        case "user_id", "employee_id": user
        case "membership_id": membership
        case "role_id": role
        case "vehicle_id": vehicle
        default: nil
        }
    }
}
