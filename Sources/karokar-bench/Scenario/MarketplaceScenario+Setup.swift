import KaroKarMessages
import KaroKarRPC
import KaroKarServices

/// The setup phases' steps. Each phase takes what the previous one left in the world, one item
/// per repetition: organizations registered, then approved, then signed in; vehicles registered,
/// then activated, then some held.
extension MarketplaceScenario {
    typealias Identity = IdentityV1.IdentityService
    typealias Administration = AdministrationV1.AdministrationService
    typealias Fleet = FleetV1.FleetService
    typealias Verifications = VerificationV1.VerificationService

    static func signInPlatform(_ configuration: Configuration) -> ScenarioStep {
        ScenarioStep(name: "login", path: Identity.Method.login.path) { context, _ in
            context.world.add([try await signIn(configuration.adminEmail, configuration.adminPassword, context)], to: "platform")
        }
    }

    /// Public: a new organization is `PENDING` with its first administrator.
    static func registerOrganization(_ type: IdentityV1.OrganizationType, _ data: MarketplaceData) -> ScenarioStep {
        let kind = type == .vendor ? "vendor" : "corporate"
        return ScenarioStep(name: "register-\(kind)", path: Identity.Method.registerOrganization.path) { context, _ in
            let request = data.organization(type, context.world.next(kind))
            let response = try await Identity.Client(context.client).registerOrganization(request, options: context.options)
            guard let organization = response.organization else { throw RPCError(.internal, "RegisterOrganization answered without the organization") }
            context.world.add([MarketplaceOrganization(id: organization.id, type: type, adminEmail: request.adminEmail)], to: "pending")
        }
    }

    static let approveOrganization = ScenarioStep(name: "approve-organization", path: Administration.Method.approveOrganization.path) { context, _ in
        let organization: MarketplaceOrganization = try take("pending", context)
        _ = try await Administration.Client(context.client).approveOrganization(
            AdministrationV1.ApproveOrganizationRequest(organizationId: organization.id), options: context.options(as: try platform(context))
        )
        context.world.add([organization], to: "approved")
    }

    /// After approval, so the token is minted for an `ACTIVE` organization.
    static func signInOrganization(_ data: MarketplaceData) -> ScenarioStep {
        ScenarioStep(name: "login", path: Identity.Method.login.path) { context, _ in
            let organization: MarketplaceOrganization = try take("approved", context)
            let actor = try await signIn(organization.adminEmail, data.password, context)
            context.world.add([actor], to: organization.type == .vendor ? "vendors" : "corporates")
        }
    }

    /// The `n`th vehicle belongs to the `n mod vendors`th vendor signed in.
    static func registerVehicle(_ data: MarketplaceData) -> ScenarioStep {
        ScenarioStep(name: "register-vehicle", path: Fleet.Method.registerVehicle.path) { context, _ in
            let index = context.world.next("vehicle")
            let count = context.world.count(of: "vendors")
            guard count > 0, let owner = context.world.value(at: index % count, in: "vendors", as: MarketplaceActor.self) else {
                throw RPCError(.failedPrecondition, "no vendor signed in")
            }
            let request = data.vehicle(index)
            let response = try await Fleet.Client(context.client).registerVehicle(request, options: context.options(as: owner))
            guard let vehicle = response.vehicle else { throw RPCError(.internal, "RegisterVehicle answered without the vehicle") }
            context.world.add([MarketplaceVehicle(id: vehicle.id, owner: owner, make: request.make, model: request.model, year: request.year)], to: "registered")
        }
    }

    /// The three verifications activation needs, submitted by the vehicle's owner: the `n`th
    /// submission is type `n mod 3` of the `n / 3`th vehicle registered.
    static let submitVerification = ScenarioStep(name: "submit-verification", path: Verifications.Method.submitVerification.path) { context, _ in
        let index = context.world.next("verification")
        guard let vehicle = context.world.value(at: index / 3, in: "registered", as: MarketplaceVehicle.self) else {
            throw RPCError(.failedPrecondition, "no registered vehicle for verification \(index)")
        }
        let types: [VerificationV1.VerificationType] = [.vehicleRegistration, .insurance, .fitnessCertificate]
        let response = try await Verifications.Client(context.client).submitVerification(VerificationV1.SubmitVerificationRequest(
            subjectType: .vehicle, subjectId: vehicle.id, type: types[index % 3], method: .manual, documentRefs: ["bench://\(vehicle.id)/\(index % 3)"]
        ), options: context.options(as: vehicle.owner))
        guard let verification = response.verification else { throw RPCError(.internal, "SubmitVerification answered without the verification") }
        context.world.add([verification.id], to: "submitted-verifications")
    }

    /// The platform administrator approves each submitted verification.
    static let approveVerification = ScenarioStep(name: "approve-verification", path: Verifications.Method.approveVerification.path) { context, _ in
        let id: String = try take("submitted-verifications", context)
        _ = try await Verifications.Client(context.client).approveVerification(
            VerificationV1.ApproveVerificationRequest(verificationId: id), options: context.options(as: try platform(context))
        )
    }

    /// `PENDING -> ACTIVE` (verified): only active vehicles are searched and held.
    static let activateVehicle = ScenarioStep(name: "activate-vehicle", path: Fleet.Method.activateVehicle.path) { context, _ in
        let vehicle: MarketplaceVehicle = try take("registered", context)
        _ = try await Fleet.Client(context.client).activateVehicle(FleetV1.ActivateVehicleRequest(vehicleId: vehicle.id), options: context.options(as: vehicle.owner))
        context.world.add([vehicle], to: "vehicles")
    }

    /// Every third vehicle (0, 3, 6, ...) gets one to three days of maintenance in the horizon's first half.
    static func setupMaintenance(_ data: MarketplaceData) -> ScenarioStep {
        ScenarioStep(name: "schedule-maintenance", path: Fleet.Method.scheduleMaintenance.path) { context, _ in
            let index = context.world.next("setup-maintenance")
            var random = data.random(4, index)
            let vehicle = try setupVehicle(3 * index, context)
            let period = data.period(startHour: Int64.random(in: 0..<40, using: &random) * 24 + 8, hours: Int64.random(in: 1...3, using: &random) * 24)
            _ = try await Fleet.Client(context.client).scheduleMaintenance(
                FleetV1.ScheduleMaintenanceRequest(vehicleId: vehicle.id, period: period, reason: "periodic service"), options: context.options(as: vehicle.owner)
            )
        }
    }

    /// Every third vehicle from the second (1, 4, 7, ...) gets a block of up to a week in the horizon's second half.
    static func setupBlock(_ data: MarketplaceData) -> ScenarioStep {
        ScenarioStep(name: "place-block", path: Fleet.Method.placeBlock.path) { context, _ in
            let index = context.world.next("setup-block")
            var random = data.random(5, index)
            let vehicle = try setupVehicle(3 * index + 1, context)
            let period = data.period(startHour: (45 + Int64.random(in: 0..<38, using: &random)) * 24, hours: Int64.random(in: 1...7, using: &random) * 24)
            _ = try await Fleet.Client(context.client).placeBlock(
                FleetV1.PlaceBlockRequest(vehicleId: vehicle.id, period: period, reason: "reserved for the owner's own use"), options: context.options(as: vehicle.owner)
            )
        }
    }

    private static func setupVehicle(_ index: Int, _ context: ScenarioContext) throws -> MarketplaceVehicle {
        guard let vehicle = context.world.value(at: index, in: "vehicles", as: MarketplaceVehicle.self) else {
            throw RPCError(.failedPrecondition, "setup has \(context.world.count(of: "vehicles")) vehicles, not \(index + 1)")
        }
        return vehicle
    }

    /// The next item the previous phase left: there is one per repetition.
    private static func take<Value: Sendable>(_ collection: String, _ context: ScenarioContext) throws -> Value {
        guard let value = context.world.take(from: collection, as: Value.self) else {
            throw RPCError(.failedPrecondition, "the previous phase left nothing in \(collection)")
        }
        return value
    }
}
