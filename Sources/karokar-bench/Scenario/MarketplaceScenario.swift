import KaroKarMessages
import KaroKarRPC
import KaroKarServices

/// `marketplace`: the platform onboards vendors and corporates, vendors register vehicles, submit
/// their three verifications (the platform approves them), activate them and put maintenance and
/// blocks on some, then the mix is what a live marketplace does all day: corporates search and check availability, vendors read their fleets and timelines and
/// schedule (and withdraw) maintenance and blocks. Everything goes through the public RPCs, each
/// call with its actor's bearer token. Corporates book (and employees book for themselves): each
/// booking's life runs as a chain of follow-ups (MarketplaceScenario+Bookings.swift).
enum MarketplaceScenario {
    struct Configuration: Sendable {
        var vendors: Int
        var vehiclesPerVendor: Int
        var corporates: Int
        var adminEmail: String
        var adminPassword: String
        var data: MarketplaceData

        var vehicles: Int { vendors * vehiclesPerVendor }
    }

    /// The domain code of a period that is not free: by design whenever a random hold collides.
    static let notAvailable: Set<String> = ["VEHICLE_NOT_AVAILABLE"]

    static func make(_ configuration: Configuration) -> Scenario {
        let data = configuration.data
        let organizations = configuration.vendors + configuration.corporates
        let vehicles = configuration.vehicles
        return Scenario(
            name: "marketplace",
            summary: "\(configuration.vendors) vendors with \(configuration.vehiclesPerVendor) vehicles each, \(configuration.corporates) corporates (run \(data.runTag))",
            setup: [
                ScenarioPhase(name: "sign-in-platform", steps: [(signInPlatform(configuration), 1)]),
                ScenarioPhase(name: "register-organizations", steps: [
                    (registerOrganization(.vendor, data), configuration.vendors), (registerOrganization(.corporate, data), configuration.corporates),
                ]),
                ScenarioPhase(name: "approve-organizations", steps: [(approveOrganization, organizations)]),
                ScenarioPhase(name: "sign-in-organizations", steps: [(signInOrganization(data), organizations)]),
                ScenarioPhase(name: "register-vehicles", steps: [(registerVehicle(data), vehicles)]),
                ScenarioPhase(name: "submit-verifications", steps: [(submitVerification, 3 * vehicles)]),
                ScenarioPhase(name: "approve-verifications", steps: [(approveVerification, 3 * vehicles)]),
                ScenarioPhase(name: "activate-vehicles", steps: [(activateVehicle, vehicles)]),
                ScenarioPhase(name: "schedule-holds", steps: [
                    (setupMaintenance(data), (vehicles + 2) / 3), (setupBlock(data), (vehicles + 1) / 3),
                ]),
                ScenarioPhase(name: "add-employees", steps: [(addEmployee(data), configuration.corporates)]),
                ScenarioPhase(name: "set-allocations", steps: [(setAllocation, configuration.corporates)]),
            ],
            mix: [
                WeightedStep(search(data), weight: 40), WeightedStep(checkAvailability(data), weight: 15),
                WeightedStep(getVehicle, weight: 10), WeightedStep(vehicleTimeline(data), weight: 10),
                WeightedStep(listFleet, weight: 6), WeightedStep(whoAmI, weight: 5),
                WeightedStep(scheduleMaintenance(data), weight: 7), WeightedStep(placeBlock(data), weight: 7),
                WeightedStep(book(data), weight: 8), WeightedStep(selfBook(data), weight: 3),
            ]
        )
    }

    // MARK: - Principals

    /// Signs in, for the principal's token.
    static func signIn(_ email: String, _ password: String, _ context: ScenarioContext) async throws -> MarketplaceActor {
        let response = try await IdentityV1.IdentityService.Client(context.client).login(
            IdentityV1.LoginRequest(email: email, password: password), options: context.options
        )
        guard let token = response.grant?.accessToken else { throw RPCError(.internal, "Login answered without a grant") }
        return MarketplaceActor(organizationID: response.organizationId, accessToken: token)
    }

    static func platform(_ context: ScenarioContext) throws -> MarketplaceActor {
        guard let platform = context.world.values(in: "platform", as: MarketplaceActor.self).first else {
            throw RPCError(.failedPrecondition, "the platform administrator is not signed in")
        }
        return platform
    }

    static func pick<Value: Sendable>(_ collection: String, _ context: ScenarioContext, _ random: inout BenchRandom) throws -> Value {
        guard let value = context.world.pick(from: collection, as: Value.self, using: &random) else {
            throw RPCError(.failedPrecondition, "setup left no \(collection)")
        }
        return value
    }
}

extension ScenarioContext {
    /// This context's options (setup's or the mix's deadline, the command's metadata) with the actor's token.
    func options(as actor: MarketplaceActor) -> CallOptions {
        options(bearer: actor.accessToken)
    }
}
