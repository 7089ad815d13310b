import Foundation
@testable import FleetContext
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarTestSupport
import Testing

/// `SearchAvailableVehicles` against a brute-force oracle over random timelines: every page of
/// every random query must list exactly the vehicles the oracle computes from the raw rows.
@Suite("Marketplace search matches a brute-force oracle")
struct SearchOracleTests {
    @Test("random fleets, timelines, callers and filters", arguments: [UInt64(11), 12, 13])
    func randomized(seed: UInt64) async throws {
        var random = SeededGenerator(seed: seed)
        let world = try await FleetWorld.make()
        let makes = ["Tata", "Mahindra", "Kia"]
        var vendors: [UUID] = []
        for _ in 0..<3 { vendors.append(try await world.organization(.vendor)) }
        var corporates: [UUID] = []
        for _ in 0..<2 { corporates.append(try await world.organization(.corporate)) }
        let platform = try await world.organization(.platform)
        for owner in vendors + corporates {
            let kind: TenantKind = vendors.contains(owner) ? .vendor : .corporate
            for _ in 0..<8 {
                try await randomVehicle(world, owner, kind, make: makes.randomElement(using: &random)!, &random)
            }
        }
        // One vendor suspended after listing: its vehicles leave search.
        try await suspendOrganization(world, vendors[2], .vendor)

        for _ in 0..<25 {
            let start = Double(Int.random(in: 0..<55, using: &random)) + Double(Int.random(in: 0..<4, using: &random)) / 4
            let window = period(start, start + Double(Int.random(in: 1...10, using: &random)))
            let caller: (UUID, TenantKind) = Bool.random(using: &random) ? (corporates.randomElement(using: &random)!, .corporate) : (platform, .platform)
            var filters = FleetV1.VehicleSearchFilters()
            switch Int.random(in: 0..<5, using: &random) {
            case 0: filters.make = .init(value: makes.randomElement(using: &random)!.uppercased())
            case 1: filters.vendorOrganizationId = .init(value: vendors.randomElement(using: &random)!.postgresText)
            case 2: filters.ownershipType = Bool.random(using: &random) ? .vendorOwned : .corporateOwned
            case 3: filters.yearMin = .init(value: 2018); filters.yearMax = .init(value: 2022)
            default: break
            }
            let found = try await searchAll(world, window, filters, caller)
            let expected = try await oracle(world, window, filters, caller)
            #expect(found == expected, "window \(window), filters \(filters), caller \(caller.1)")
        }
        await world.pool.close()
    }

    /// A vehicle in a random state with a random timeline over days 0..60.
    private func randomVehicle(_ world: FleetWorld, _ owner: UUID, _ kind: TenantKind, make: String, _ random: inout SeededGenerator) async throws {
        let context = world.context(owner, kind)
        var vehicle = try await world.handler.registerVehicle(.init(
            ownershipType: kind == .vendor ? .vendorOwned : .corporateOwned, make: make, model: "M\(Int.random(in: 1...2, using: &random))",
            year: Int32.random(in: 2015...2025, using: &random), licensePlate: "P\(UUID().uuidString.prefix(8))"
        ), context: context).vehicle!
        let fate = Int.random(in: 0..<10, using: &random)
        if fate == 0 { return }  // stays PENDING
        try await world.verified(UUID(hyphenated: vehicle.id)!, owner: owner)
        vehicle = try await world.handler.activateVehicle(.init(vehicleId: vehicle.id), context: context).vehicle!
        for _ in 0..<Int.random(in: 0...4, using: &random) {
            let start = Double(Int.random(in: 0..<58, using: &random))
            let length = Double(Int.random(in: 1...6, using: &random)) / 2
            let kind = Int.random(in: 0..<3, using: &random)
            do {
                switch kind {
                case 0:
                    _ = try await world.availability.createAvailabilityRecord(.init(
                        vehicleId: vehicle.id, period: openPeriod(start, start + length), status: .reserved, sourceType: .booking, sourceId: UUID().postgresText
                    ), context: context)
                case 1:
                    _ = try await world.handler.scheduleMaintenance(.init(vehicleId: vehicle.id, period: period(start, start + length), reason: "r"), context: context)
                default:
                    _ = try await world.handler.placeBlock(.init(vehicleId: vehicle.id, period: period(start, start + length), reason: "r"), context: context)
                }
            } catch let error as DomainError where error.domainCode == "VEHICLE_NOT_AVAILABLE" {
                continue  // overlapped an earlier random record: fine, the oracle reads what is stored
            }
        }
        switch fate {
        case 1: _ = try await world.handler.suspendVehicle(.init(vehicleId: vehicle.id, reason: .vendorRequest, period: openPeriod(Double(Int.random(in: 0..<60, using: &random)))), context: context)
        case 2:
            do {
                _ = try await world.handler.retireVehicle(.init(vehicleId: vehicle.id), context: context)
            } catch let error as DomainError where error.domainCode == "VEHICLE_IN_USE" {
                return  // reserved: it stays active, as the oracle will read
            }
        default: break
        }
    }

    private func suspendOrganization(_ world: FleetWorld, _ id: UUID, _ kind: TenantKind) async throws {
        try await world.bus.transaction(.system()) { work in
            try await work.publish(EventDraft(
                "organization.suspended", aggregateType: "organization", aggregateID: id.postgresText,
                payload: .organizationSuspended(EventsV1.OrganizationSuspended(organizationId: id.postgresText, organizationType: kind == .vendor ? .vendor : .corporate))
            ))
        }
    }

    private func searchAll(_ world: FleetWorld, _ window: CommonV1.Period, _ filters: FleetV1.VehicleSearchFilters, _ caller: (UUID, TenantKind)) async throws -> [String] {
        var ids: [String] = []
        var token = ""
        repeat {
            let page = try await world.handler.searchAvailableVehicles(.init(
                period: window, filters: filters, page: .init(pageSize: 3, pageToken: token)
            ), context: world.context(caller.0, caller.1))
            ids += page.vehicles.map(\.id)
            token = page.page?.nextPageToken ?? ""
        } while !token.isEmpty
        return ids
    }

    /// The rules of DOMAIN.md section 5, applied by brute force to every stored row.
    private func oracle(_ world: FleetWorld, _ window: CommonV1.Period, _ filters: FleetV1.VehicleSearchFilters, _ caller: (UUID, TenantKind)) async throws -> [String] {
        let start = window.start!.seconds * 1_000_000, end = window.end!.seconds * 1_000_000
        let owners = Dictionary(uniqueKeysWithValues: try await world.pool.query("SELECT organization_id, status FROM fleet.owner").map {
            (try $0.decode(UUID.self, "organization_id"), try $0.decode(String.self, "status"))
        })
        var busy = Set<UUID>()
        for row in try await world.pool.query("SELECT vehicle_id, period FROM fleet.availability WHERE released_at IS NULL") {
            let range = try row.decode(PostgresTimestampRange.self, "period")
            if range.lower.microseconds < end, range.upper.map({ $0.microseconds > start }) ?? true { busy.insert(try row.decode(UUID.self, "vehicle_id")) }
        }
        let vehicles = try await world.pool.query("SELECT * FROM fleet.vehicle").map { try $0.vehicle().message }
        return vehicles.filter { vehicle in
            let owner = UUID(uuidString: vehicle.organizationId)!
            return vehicle.status == .active && owners[owner] == "ACTIVE" && !busy.contains(UUID(uuidString: vehicle.id)!)
                && (caller.1 == .platform || vehicle.ownershipType == .vendorOwned || owner == caller.0)
                && (filters.make.map { $0.value.lowercased() == vehicle.make.lowercased() } ?? true)
                && (filters.vendorOrganizationId.map { $0.value == vehicle.organizationId } ?? true)
                && (filters.ownershipType == .unspecified || filters.ownershipType == vehicle.ownershipType)
                && (filters.yearMin.map { vehicle.year >= $0.value } ?? true) && (filters.yearMax.map { vehicle.year <= $0.value } ?? true)
        }.map(\.id).sorted()
    }
}
