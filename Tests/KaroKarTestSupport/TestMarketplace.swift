import Foundation
public import KaroKarKernel
public import KaroKarMessages
public import KaroKarPostgres
public import KaroKarRPC
public import KaroKarServer
public import KaroKarServices
public import Tracing

/// A signed-in principal: its token and the ids it acts for.
public struct TestSession: Sendable {
    public let accessToken: String
    public let userID: String
    public let organizationID: String
    public let refreshToken: String

    public init(accessToken: String, userID: String, organizationID: String, refreshToken: String = "") {
        self.accessToken = accessToken
        self.userID = userID
        self.organizationID = organizationID
        self.refreshToken = refreshToken
    }

    /// Call options carrying the token (and an idempotency key, when given).
    public func options(idempotencyKey: String? = nil) -> CallOptions {
        var metadata = Metadata([("authorization", "Bearer \(accessToken)")])
        if let idempotencyKey { metadata["idempotency-key"] = idempotencyKey }
        return CallOptions(timeout: .seconds(30), metadata: metadata)
    }

    public var callOptions: CallOptions { options() }
}

/// An onboarded (registered and approved) organization with its first administrator signed in.
public struct TestOrganization: Sendable {
    public let id: String
    public let type: IdentityV1.OrganizationType
    public let admin: TestSession
    public let adminEmail: String
}

/// The real server on a fresh database, with one client and the steps most tests start with:
/// sign in as the platform administrator, onboard a vendor or a corporate, add members with a
/// role. Fleet and Booking tests reuse these.
public struct TestMarketplace: Sendable {
    public let server: TestServer
    public let client: RPCClient

    public static let password = "correct horse battery staple"

    public static func start(
        clock: any WallClock = SystemClock(), background: Bool = true, tracer: (any Tracer)? = nil,
        _ configure: (inout ServerSettings) -> Void = { _ in }
    ) async throws -> TestMarketplace {
        let server = try await TestServer.startWithDatabase(clock: clock, background: background, tracer: tracer, configure)
        return TestMarketplace(server: server, client: server.client())
    }

    /// Runs `body` on a fresh marketplace and stops it afterwards, also when `body` throws.
    /// `background: false`: no event relay nor sweeps (see ``TestServer/startWithDatabase(clock:background:_:)``).
    public static func run<R: Sendable>(
        clock: any WallClock = SystemClock(), background: Bool = true, _ configure: (inout ServerSettings) -> Void = { _ in },
        _ body: (TestMarketplace) async throws -> R
    ) async throws -> R {
        let market = try await start(clock: clock, background: background, configure)
        do {
            let result = try await body(market)
            await market.stop()
            return result
        } catch {
            await market.stop()
            throw error
        }
    }

    public func stop() async {
        await client.close()
        await server.stop()
    }

    public var pool: PostgresPool { server.pool! }
    public var identity: IdentityV1.IdentityService.Client { IdentityV1.IdentityService.Client(client) }
    public var administration: AdministrationV1.AdministrationService.Client { AdministrationV1.AdministrationService.Client(client) }

    public func login(_ email: String, _ password: String = TestMarketplace.password, organization: String = "") async throws -> TestSession {
        try await identity.signIn(email, password, organization: organization)
    }

    public func platformAdmin() async throws -> TestSession {
        try await login(TestIdentity.adminEmail, TestIdentity.adminPassword)
    }

    /// Registers an organization (left `PENDING`).
    public func register(
        _ type: IdentityV1.OrganizationType, name: String? = nil, email: String? = nil, options: CallOptions = CallOptions()
    ) async throws -> IdentityV1.RegisterOrganizationResponse {
        let tag = UUID().uuidString.prefix(8).lowercased()
        return try await identity.registerOrganization(IdentityV1.RegisterOrganizationRequest(
            organizationName: name ?? "Org \(tag)", organizationType: type, metadata: ["region": "IN-KA"],
            adminFirstName: "Asha", adminLastName: "Rao", adminEmail: email ?? "admin-\(tag)@example.com", adminPassword: Self.password
        ), options: options)
    }

    /// Registers, approves (as the platform administrator) and signs in as the first administrator.
    public func onboard(_ type: IdentityV1.OrganizationType, name: String? = nil) async throws -> TestOrganization {
        let registered = try await register(type, name: name)
        let platform = try await platformAdmin()
        _ = try await administration.approveOrganization(
            AdministrationV1.ApproveOrganizationRequest(organizationId: registered.organization!.id), options: platform.callOptions
        )
        let email = registered.adminUser!.email
        return TestOrganization(id: registered.organization!.id, type: type, admin: try await login(email), adminEmail: email)
    }

    /// The id of the system role `name` of `type`.
    public func roleID(_ name: String, type: IdentityV1.OrganizationType) async throws -> String {
        let platform = try await platformAdmin()
        let roles = try await identity.listRoles(IdentityV1.ListRolesRequest(organizationType: type), options: platform.callOptions)
        guard let role = roles.roles.first(where: { $0.name == name }) else { throw RPCError(.notFound, "no role \(name)") }
        return role.id
    }

    /// A new user of `organization` with the role `role`, signed in.
    public func member(of organization: TestOrganization, role: String) async throws -> TestSession {
        let email = "\(role.lowercased())-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        _ = try await identity.createUser(IdentityV1.CreateUserRequest(
            firstName: "Ravi", lastName: "Kumar", email: email, password: Self.password,
            roleId: try await roleID(role, type: organization.type)
        ), options: organization.admin.callOptions)
        return try await login(email)
    }
}

extension IdentityV1.IdentityService.Client {
    /// Signs in through this client (whichever server, connection or address it reaches).
    public func signIn(_ email: String, _ password: String = TestMarketplace.password, organization: String = "") async throws -> TestSession {
        let response = try await login(IdentityV1.LoginRequest(email: email, password: password, organizationId: organization))
        return TestSession(
            accessToken: response.grant!.accessToken, userID: response.userId, organizationID: response.organizationId,
            refreshToken: response.grant!.refreshToken
        )
    }
}

extension TestMarketplace {
    public var verifications: VerificationV1.VerificationService.Client { VerificationV1.VerificationService.Client(client) }

    /// The three verifications a vehicle's activation needs (registration, insurance, fitness
    /// certificate), through the real path: its owner submits them, the platform administrator
    /// approves them. `expiresAt`: the approvals' expiry (none by default).
    @discardableResult
    public func verifyVehicle(
        _ vehicleID: String, owner: TestSession, expiresAt: CommonV1.Timestamp? = nil
    ) async throws -> [VerificationV1.Verification] {
        try await verifyVehicle(vehicleID, ownerOptions: owner.callOptions, expiresAt: expiresAt)
    }

    /// ``verifyVehicle(_:owner:expiresAt:)`` with the owner's call options.
    @discardableResult
    public func verifyVehicle(
        _ vehicleID: String, ownerOptions: CallOptions, expiresAt: CommonV1.Timestamp? = nil
    ) async throws -> [VerificationV1.Verification] {
        let platform = try await platformAdmin()
        var approved: [VerificationV1.Verification] = []
        for type in [VerificationV1.VerificationType.vehicleRegistration, .insurance, .fitnessCertificate] {
            let submitted = try await verifications.submitVerification(VerificationV1.SubmitVerificationRequest(
                subjectType: .vehicle, subjectId: vehicleID, type: type, method: .manual, documentRefs: ["s3://karokar-test/\(vehicleID)/\(type)"]
            ), options: ownerOptions).verification!
            approved.append(try await verifications.approveVerification(
                VerificationV1.ApproveVerificationRequest(verificationId: submitted.id, expiresAt: expiresAt), options: platform.callOptions
            ).verification!)
        }
        return approved
    }
}
