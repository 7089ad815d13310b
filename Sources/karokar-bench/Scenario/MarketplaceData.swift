import KaroKarMessages

/// What the marketplace scenario keeps in its world: signed-in organizations and their vehicles.
struct MarketplaceActor: Sendable {
    let organizationID: String
    let accessToken: String
}

/// A registered organization waiting for the platform's decision, then for its admin's sign-in.
struct MarketplaceOrganization: Sendable {
    let id: String
    let type: IdentityV1.OrganizationType
    let adminEmail: String
}

struct MarketplaceVehicle: Sendable {
    let id: String
    let owner: MarketplaceActor
    let make: String
    let model: String
    let year: Int32
}

/// The generated values: names, plates and periods from the seed (so two runs with one seed build
/// the same marketplace), made unique per run by the run tag (so runs can share a server).
struct MarketplaceData: Sendable {
    static let catalogue: [(make: String, models: [String])] = [
        ("Maruti Suzuki", ["Swift", "Dzire", "Ertiga", "Baleno"]), ("Hyundai", ["Creta", "Verna", "i20"]),
        ("Tata", ["Nexon", "Harrier", "Punch"]), ("Mahindra", ["XUV700", "Scorpio-N", "Thar"]),
        ("Toyota", ["Innova Crysta", "Fortuner"]), ("Kia", ["Seltos", "Carens"]), ("Honda", ["City", "Amaze"]),
    ]
    static let cities = ["Bengaluru", "Mysuru", "Chennai", "Pune", "Hyderabad", "Kochi", "Mumbai", "Delhi"]
    static let vendorWords = ["Wheels", "Motors", "Car Rentals", "Fleet Services", "Travels", "Mobility"]
    static let corporateWords = ["Technologies", "Logistics", "Pharma", "Consulting", "Foods", "Textiles"]
    static let states = ["KA", "TN", "MH", "TS", "KL", "DL"]
    /// Years the catalogue's vehicles are from; searches filter inside it.
    static let years: ClosedRange<Int32> = 2017...2025
    /// Days after `horizonStart` that periods fall in; setup's maintenance takes the first half,
    /// its blocks the second, so setup never collides with itself.
    static let horizonDays: Int64 = 90

    let seed: UInt64
    /// Six lower-case letters and digits, new every run.
    let runTag: String
    /// Unix seconds: the midnight (UTC) after the run starts.
    let horizonStart: Int64
    /// The organizations' administrators' password (one for all: a bench, not a credential store).
    var password: String { "bench passphrase \(runTag) for every admin" }

    /// The `index`th entity of a kind always gets the same values from one seed.
    func random(_ kind: UInt64, _ index: Int) -> BenchRandom {
        BenchRandom(seed: seed &* 0x2545_F491_4F6C_DD1D &+ kind &* 0x1_0000_0001 &+ UInt64(index))
    }

    func organization(_ type: IdentityV1.OrganizationType, _ index: Int) -> IdentityV1.RegisterOrganizationRequest {
        var random = random(type == .vendor ? 1 : 2, index)
        let words = type == .vendor ? Self.vendorWords : Self.corporateWords
        let kind = type == .vendor ? "vendor" : "corporate"
        return IdentityV1.RegisterOrganizationRequest(
            organizationName: "\(Self.cities.randomElement(using: &random)!) \(words.randomElement(using: &random)!) \(index) [\(runTag)]",
            organizationType: type, metadata: ["region": "IN-\(Self.states.randomElement(using: &random)!)", "bench.run": runTag],
            adminFirstName: "Bench", adminLastName: "\(kind.capitalizedFirst) \(index)",
            adminEmail: "\(kind)-\(index)-\(runTag)@bench.karokar.test", adminPassword: password
        )
    }

    /// Plates such as `KA07-00042-K3X9Q2`: unique by index within a run, by the tag across runs.
    func vehicle(_ index: Int) -> FleetV1.RegisterVehicleRequest {
        var random = random(3, index)
        let entry = Self.catalogue.randomElement(using: &random)!
        let district = Int.random(in: 1...60, using: &random)
        return FleetV1.RegisterVehicleRequest(
            ownershipType: .vendorOwned, make: entry.make, model: entry.models.randomElement(using: &random)!,
            year: Int32.random(in: Self.years, using: &random),
            licensePlate: "\(Self.states.randomElement(using: &random)!)\(district < 10 ? "0" : "")\(district)-\(index.padded(5))-\(runTag.uppercased())"
        )
    }

    /// `hours` long, starting on the hour `startHour` hours into the horizon.
    func period(startHour: Int64, hours: Int64) -> CommonV1.Period {
        let start = horizonStart + startHour * 3600
        return CommonV1.Period(start: CommonV1.Timestamp(seconds: start), end: CommonV1.Timestamp(seconds: start + hours * 3600))
    }

    /// Anywhere in the horizon, from 2 hours to `maximumHours` long.
    func randomPeriod(maximumHours: Int64, using random: inout BenchRandom) -> CommonV1.Period {
        let hours = Int64.random(in: 2...maximumHours, using: &random)
        return period(startHour: Int64.random(in: 0...(Self.horizonDays * 24 - hours), using: &random), hours: hours)
    }

    static func makeRunTag() -> String {
        var system = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<6).map { _ in alphabet.randomElement(using: &system)! })
    }
}

extension String {
    fileprivate var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}

extension Int {
    fileprivate func padded(_ width: Int) -> String {
        let text = String(self)
        return String(repeating: "0", count: Swift.max(0, width - text.count)) + text
    }
}
