import Foundation
@testable import FleetContext
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarTestSupport
import Testing

/// `SearchAvailableVehicles` and `SearchFlexibleStart` against a brute-force oracle over random
/// timelines: every page of every random question must list exactly the vehicles (and earliest
/// starts) the oracle computes from the raw rows of `fleet.availability` (never from the free
/// intervals search reads), with random records, suspensions, retired and pending vehicles, a
/// suspended vendor and turnaround buffers; and pages walked to the end while records are being
/// placed must stay consistent.
@Suite("Marketplace search matches a brute-force oracle")
struct SearchOracleTests {
    @Test("random fleets, timelines, callers, windows and filters", arguments: [UInt64(11), 12, 13])
    func randomized(seed: UInt64) async throws {
        var random = SeededGenerator(seed: seed)
        let fleet = try await RandomFleet.make(&random)
        let world = fleet.world
        for _ in 0..<30 {
            // Windows from one hour to 60 days, starting on the hour, over the timelines' 60 days.
            let start = Double(Int.random(in: 0..<(58 * 24), using: &random)) / 24
            let hours = [1, 5, 24, 72, 7 * 24, 30 * 24, 60 * 24].randomElement(using: &random)!
            var window = period(start, start + Double(hours) / 24)
            // Every other window touches a record: it ends where one starts, or starts where one
            // (with its buffer) ends, so off-by-one boundaries cannot hide.
            if Bool.random(using: &random), let (lower, upper) = try await Oracle.read(world).held.values.flatMap({ $0 }).randomElement(using: &random) {
                let length = Int64(hours) * 3_600
                if Bool.random(using: &random) || upper == nil {
                    window = CommonV1.Period(start: .init(seconds: lower / 1_000_000 - length), end: .init(seconds: lower / 1_000_000))
                } else {
                    window = CommonV1.Period(start: .init(seconds: upper! / 1_000_000), end: .init(seconds: upper! / 1_000_000 + length))
                }
            }
            let caller = fleet.randomCaller(&random)
            let filters = fleet.randomFilters(&random)
            let pageSize = UInt32.random(in: 1...7, using: &random)
            let expected = try await Oracle.read(world).free(window: window, filters, caller)
            for plans in SearchOracleTests.plans {
                let found = try await pinned(plans) {
                    try await searchAll(world, window, filters, caller, pageSize: pageSize)
                }
                #expect(found == expected, "\(plans): window \(window), filters \(filters), caller \(caller.1), page \(pageSize)")
            }
        }
        for _ in 0..<30 {
            let origin = days(0, nil).0.seconds
            var earliest = origin + Int64.random(in: 0..<(55 * 24), using: &random) * 3_600
            var latest = earliest + Int64.random(in: 0...(14 * 24), using: &random) * 3_600
            // Every other range ends or starts where a record (with its buffer) ends.
            if Bool.random(using: &random), let (_, upper) = try await Oracle.read(world).held.values.flatMap({ $0 }).randomElement(using: &random), let upper {
                if Bool.random(using: &random) {
                    latest = upper / 1_000_000
                    earliest = latest - Int64.random(in: 0...(5 * 24), using: &random) * 3_600
                } else {
                    earliest = upper / 1_000_000
                    latest = earliest + 86_400
                }
            }
            let choices: [UInt32] = [60, 300, 1_440, 4_320, 14_400, 43_200]
            let minutes = choices.randomElement(using: &random)!
            let caller = fleet.randomCaller(&random)
            let filters = fleet.randomFilters(&random)
            let pageSize = UInt32.random(in: 1...7, using: &random)
            let expected = try await Oracle.read(world).flexible(
                earliest: earliest, latest: latest, minutes: Int64(minutes), filters, caller
            )
            let expectedIDs: [String] = expected.map { $0.0 }, expectedStarts: [Int64] = expected.map { $0.1 }
            for plans in SearchOracleTests.plans {
                let found = try await pinned(plans) {
                    try await flexibleAll(world, earliest, latest, minutes, filters, caller, pageSize: pageSize)
                }
                let foundIDs: [String] = found.map { $0.0 }, foundStarts: [Int64] = found.map { $0.1 }
                #expect(foundIDs == expectedIDs, "\(plans): flexible \(earliest)...\(latest) for \(minutes) min, filters \(filters)")
                #expect(foundStarts == expectedStarts, "\(plans): earliest starts, flexible \(earliest)...\(latest) for \(minutes) min")
            }
        }
        await world.pool.close()
    }

    @Test("pages walked to the end while records are placed", arguments: [UInt64(21), 22])
    func pagesWhileWriting(seed: UInt64) async throws {
        var random = SeededGenerator(seed: seed)
        let fleet = try await RandomFleet.make(&random)
        let world = fleet.world
        for _ in 0..<8 {
            let start = Double(Int.random(in: 0..<50, using: &random))
            let window = period(start, start + Double(Int.random(in: 1...8, using: &random)))
            let caller = fleet.randomCaller(&random)
            let filters = fleet.randomFilters(&random)
            let before = try await Oracle.read(world).free(window: window, filters, caller)
            var ids: [String] = []
            var token = ""
            repeat {
                let page = try await world.handler.searchAvailableVehicles(.init(
                    period: window, filters: filters, page: .init(pageSize: 2, pageToken: token)
                ), context: world.context(caller.0, caller.1))
                ids += page.vehicles.map(\.id)
                token = page.page?.nextPageToken ?? ""
                // Between pages, records land on random vehicles, inside the window and out of it.
                for _ in 0..<3 { try await fleet.randomRecord(within: start - 2, start + 10, &random) }
            } while !token.isEmpty
            let after = try await Oracle.read(world).free(window: window, filters, caller)
            // Records were only added: a vehicle free at the end was free throughout and must be
            // listed; a listed one was free when its page was read, so at the start too.
            #expect(ids == ids.sorted() && Set(ids).count == ids.count, "pages in id order, no repeats")
            #expect(Set(after).isSubset(of: Set(ids)), "every vehicle free throughout is listed")
            #expect(Set(ids).isSubset(of: Set(before)), "every listed vehicle was free")
        }
        await world.pool.close()
    }

    @Test("a flexible search refuses a bad range or duration as INVALID_ARGUMENT")
    func flexibleValidation() async throws {
        let world = try await FleetWorld.make()
        let corporate = try await world.organization(.corporate)
        let context = world.context(corporate, .corporate)
        let bad: [FleetV1.SearchFlexibleStartRequest] = [
            .init(earliestStart: days(5, nil).0, latestStart: days(4, nil).0, durationMinutes: 60),  // latest before earliest
            .init(earliestStart: days(0, nil).0, latestStart: days(367, nil).0, durationMinutes: 60),  // more than 366 days apart
            .init(earliestStart: days(0, nil).0, latestStart: days(1, nil).0, durationMinutes: 0),
            .init(earliestStart: days(0, nil).0, latestStart: days(1, nil).0, durationMinutes: 527_041),
            .init(latestStart: days(1, nil).0, durationMinutes: 60),  // no earliest start
            .init(earliestStart: CommonV1.Timestamp(seconds: .max), latestStart: days(1, nil).0, durationMinutes: 60),
        ]
        for request in bad {
            await #expect(throws: (any Error).self, "\(request)") {
                do {
                    _ = try await world.handler.searchFlexibleStart(request, context: context)
                } catch {
                    #expect(error.rpcCode == .invalidArgument, "\(request): \(error)")
                    throw error
                }
            }
        }
        let vehicle = try await world.activeVehicle(try await world.organization(.vendor), .vendor)
        let found = try await world.handler.searchFlexibleStart(
            .init(earliestStart: days(0, nil).0, latestStart: days(366, nil).0, durationMinutes: 527_040), context: context
        )
        #expect(found.matches.map(\.vehicle?.id) == [vehicle.id] && found.matches.first?.earliestStart == days(0, nil).0)
        await world.pool.close()
    }

    /// Every plan on its own, and the race. The make plan starts with a budget of one interval,
    /// so pages with more than one candidate take its give-up-and-rescan path (budgets 1, 4, 16,
    /// ...) before a complete scan answers.
    static let plans: [SearchStore.Plans] = [.race, .walkOnly, .gapsOnly, .makeOnly]

    private func pinned<T: Sendable>(_ plans: SearchStore.Plans, _ body: () async throws -> T) async throws -> T {
        try await SearchStore.$plans.withValue(plans) {
            try await SearchStore.$firstMakeBudget.withValue(plans == .makeOnly ? 1 : 512) { try await body() }
        }
    }

    private func searchAll(
        _ world: FleetWorld, _ window: CommonV1.Period, _ filters: FleetV1.VehicleSearchFilters, _ caller: (UUID, TenantKind), pageSize: UInt32
    ) async throws -> [String] {
        var ids: [String] = []
        var token = ""
        repeat {
            let page = try await world.handler.searchAvailableVehicles(.init(
                period: window, filters: filters, page: .init(pageSize: pageSize, pageToken: token)
            ), context: world.context(caller.0, caller.1))
            ids += page.vehicles.map(\.id)
            token = page.page?.nextPageToken ?? ""
        } while !token.isEmpty
        return ids
    }

    private func flexibleAll(
        _ world: FleetWorld, _ earliest: Int64, _ latest: Int64, _ minutes: UInt32, _ filters: FleetV1.VehicleSearchFilters,
        _ caller: (UUID, TenantKind), pageSize: UInt32
    ) async throws -> [(String, Int64)] {
        var found: [(String, Int64)] = []
        var token = ""
        repeat {
            let page = try await world.handler.searchFlexibleStart(.init(
                earliestStart: .init(seconds: earliest), latestStart: .init(seconds: latest), durationMinutes: minutes,
                filters: filters, page: .init(pageSize: pageSize, pageToken: token)
            ), context: world.context(caller.0, caller.1))
            found += page.matches.map { match -> (String, Int64) in (match.vehicle!.id, match.earliestStart!.seconds) }
            token = page.page?.nextPageToken ?? ""
        } while !token.isEmpty
        return found
    }
}

/// Three vendors (one suspended after listing) and two corporates with random fleets: vehicles
/// pending, active, suspended or retired, random bookings, maintenance and blocks over 60 days,
/// and random turnaround buffers (set before and between the records, so both kinds exist).
struct RandomFleet {
    let world: FleetWorld
    let vendors: [UUID]
    let corporates: [UUID]
    let platform: UUID
    let makes = ["Tata", "Mahindra", "Kia"]
    var active: [(UUID, UUID, TenantKind)] = []

    static func make(_ random: inout SeededGenerator) async throws -> RandomFleet {
        let world = try await FleetWorld.make()
        var vendors: [UUID] = []
        for _ in 0..<3 { vendors.append(try await world.organization(.vendor)) }
        var corporates: [UUID] = []
        for _ in 0..<2 { corporates.append(try await world.organization(.corporate)) }
        var fleet = RandomFleet(world: world, vendors: vendors, corporates: corporates, platform: try await world.organization(.platform))
        for owner in vendors + corporates {
            let kind: TenantKind = vendors.contains(owner) ? .vendor : .corporate
            try await fleet.buffer(owner, kind, &random)
            for index in 0..<8 {
                if index == 4 { try await fleet.buffer(owner, kind, &random) }
                try await fleet.randomVehicle(owner, kind, &random)
            }
        }
        // One vendor suspended after listing: its vehicles leave search.
        try await world.bus.transaction(.system()) { work in
            try await work.publish(EventDraft(
                "organization.suspended", aggregateType: "organization", aggregateID: vendors[2].postgresText,
                payload: .organizationSuspended(EventsV1.OrganizationSuspended(organizationId: vendors[2].postgresText, organizationType: .vendor))
            ))
        }
        return fleet
    }

    private func buffer(_ owner: UUID, _ kind: TenantKind, _ random: inout SeededGenerator) async throws {
        let minutes = UInt32([0, 0, 30, 180, 24 * 60].randomElement(using: &random)!)
        _ = try await world.handler.setTurnaroundBuffer(.init(minutes: minutes), context: world.context(owner, kind))
    }

    func randomCaller(_ random: inout SeededGenerator) -> (UUID, TenantKind) {
        switch Int.random(in: 0..<3, using: &random) {
        case 0: (platform, .platform)
        default: (corporates.randomElement(using: &random)!, .corporate)
        }
    }

    func randomFilters(_ random: inout SeededGenerator) -> FleetV1.VehicleSearchFilters {
        var filters = FleetV1.VehicleSearchFilters()
        switch Int.random(in: 0..<11, using: &random) {
        case 0: filters.make = .init(value: makes.randomElement(using: &random)!.uppercased())
        case 1: filters.vendorOrganizationId = .init(value: vendors.randomElement(using: &random)!.postgresText)
        case 2: filters.ownershipType = Bool.random(using: &random) ? .vendorOwned : .corporateOwned
        case 3: filters.yearMin = .init(value: 2018); filters.yearMax = .init(value: 2022)
        case 4: filters.make = .init(value: "Kia"); filters.model = .init(value: "M2"); filters.yearMin = .init(value: 2030)  // no answer
        case 5: filters.model = .init(value: "m1")
        // A make with the other filters (the make plan tests them in its index scan and again on
        // the listing): model and year range, one vendor, one ownership.
        case 6:
            filters.make = .init(value: makes.randomElement(using: &random)!.lowercased()); filters.model = .init(value: "M2")
            filters.yearMin = .init(value: 2017); filters.yearMax = .init(value: 2023)
        case 7:
            filters.make = .init(value: makes.randomElement(using: &random)!)
            filters.vendorOrganizationId = .init(value: vendors.randomElement(using: &random)!.postgresText)
        case 8:
            filters.make = .init(value: makes.randomElement(using: &random)!)
            filters.ownershipType = Bool.random(using: &random) ? .vendorOwned : .corporateOwned
        default: break
        }
        return filters
    }

    /// A vehicle in a random state with a random timeline over days 0..60.
    private mutating func randomVehicle(_ owner: UUID, _ kind: TenantKind, _ random: inout SeededGenerator) async throws {
        let context = world.context(owner, kind)
        var vehicle = try await world.handler.registerVehicle(.init(
            ownershipType: kind == .vendor ? .vendorOwned : .corporateOwned, make: makes.randomElement(using: &random)!,
            model: "M\(Int.random(in: 1...2, using: &random))",
            year: Int32.random(in: 2015...2025, using: &random), licensePlate: "P\(UUID().uuidString.prefix(8))"
        ), context: context).vehicle!
        let fate = Int.random(in: 0..<10, using: &random)
        if fate == 0 { return }  // stays PENDING
        try await world.verified(UUID(hyphenated: vehicle.id)!, owner: owner)
        vehicle = try await world.handler.activateVehicle(.init(vehicleId: vehicle.id), context: context).vehicle!
        let id = UUID(hyphenated: vehicle.id)!
        active.append((id, owner, kind))
        if Int.random(in: 0..<3, using: &random) == 0 {
            // Listed details change after activation: the copies search filters on follow them.
            _ = try await world.handler.updateVehicleDetails(.init(
                vehicleId: vehicle.id, make: .init(value: makes.randomElement(using: &random)!),
                model: .init(value: "M\(Int.random(in: 1...2, using: &random))"), year: .init(value: Int32.random(in: 2015...2025, using: &random))
            ), context: context)
        }
        for _ in 0..<Int.random(in: 0...5, using: &random) {
            try await randomRecord(on: id, owner, kind, within: 0, 58, &random)
        }
        switch fate {
        case 1:
            let start = Double(Int.random(in: 0..<(60 * 24), using: &random)) / 24
            let end: Double? = Bool.random(using: &random) ? start + Double(Int.random(in: 1...10, using: &random)) : nil
            _ = try await world.handler.suspendVehicle(.init(vehicleId: vehicle.id, reason: .vendorRequest, period: openPeriod(start, end)), context: context)
        case 2:
            do {
                _ = try await world.handler.retireVehicle(.init(vehicleId: vehicle.id), context: context)
            } catch let error as DomainError where error.domainCode == "VEHICLE_IN_USE" {
                return  // reserved: it stays active, as the oracle will read
            }
        default: break
        }
    }

    /// A random record on a random active vehicle, starting between the two days.
    func randomRecord(within first: Double, _ last: Double, _ random: inout SeededGenerator) async throws {
        guard let (id, owner, kind) = active.randomElement(using: &random) else { return }
        try await randomRecord(on: id, owner, kind, within: max(0, first), last, &random)
    }

    private func randomRecord(
        on vehicle: UUID, _ owner: UUID, _ kind: TenantKind, within first: Double, _ last: Double, _ random: inout SeededGenerator
    ) async throws {
        let context = world.context(owner, kind)
        let start = first + Double(Int.random(in: 0..<Int((last - first) * 24), using: &random)) / 24
        let length = Double(Int.random(in: 1...(6 * 24), using: &random)) / 24
        do {
            switch Int.random(in: 0..<3, using: &random) {
            case 0:
                _ = try await world.availability.createAvailabilityRecord(.init(
                    vehicleId: vehicle.postgresText, period: openPeriod(start, start + length), status: .reserved, sourceType: .booking,
                    sourceId: UUID().postgresText
                ), context: context)
            case 1:
                _ = try await world.handler.scheduleMaintenance(.init(vehicleId: vehicle.postgresText, period: period(start, start + length), reason: "r"), context: context)
            default:
                _ = try await world.handler.placeBlock(.init(vehicleId: vehicle.postgresText, period: period(start, start + length), reason: "r"), context: context)
            }
        } catch let error as DomainError where ["VEHICLE_NOT_AVAILABLE", "VEHICLE_NOT_ACTIVE"].contains(error.domainCode ?? "") {
            return  // overlapped an earlier record, or the vehicle is suspended or retired: the oracle reads what is stored
        } catch let error where error.rpcCode == .failedPrecondition {
            return
        }
    }
}

/// The rules of DOMAIN.md section 5 and the turnaround buffer, applied by brute force to every
/// stored row (open records' `blocked` ranges, not the free intervals search reads).
struct Oracle {
    struct Row {
        let id: String
        let owner: UUID
        let vehicle: FleetV1.Vehicle
    }

    let owners: [UUID: (status: String, minutes: Int64)]
    let vehicles: [Row]
    /// Open records' `blocked` ranges per vehicle, in microseconds (nil upper: open-ended).
    let held: [String: [(Int64, Int64?)]]

    static func read(_ world: FleetWorld) async throws -> Oracle {
        var owners: [UUID: (status: String, minutes: Int64)] = [:]
        for row in try await world.pool.query("SELECT organization_id, status, turnaround_minutes FROM fleet.owner") {
            owners[try row.decode(UUID.self, "organization_id")] = (try row.decode(String.self, "status"), Int64(try row.decode(Int32.self, "turnaround_minutes")))
        }
        var held: [String: [(Int64, Int64?)]] = [:]
        for row in try await world.pool.query("SELECT vehicle_id, blocked FROM fleet.availability WHERE released_at IS NULL") {
            let range = try row.decode(PostgresTimestampRange.self, "blocked")
            held[try row.decode(UUID.self, "vehicle_id").postgresText, default: []].append((range.lower.microseconds, range.upper?.microseconds))
        }
        let vehicles = try await world.pool.query("SELECT * FROM fleet.vehicle").map { row in
            let vehicle = try row.vehicle().message
            return Row(id: vehicle.id, owner: UUID(uuidString: vehicle.organizationId)!, vehicle: vehicle)
        }
        return Oracle(owners: owners, vehicles: vehicles.sorted { $0.id < $1.id }, held: held)
    }

    /// The listings a caller's search may show, by id.
    func listed(_ filters: FleetV1.VehicleSearchFilters, _ caller: (UUID, TenantKind)) -> [Row] {
        vehicles.filter { row in
            let vehicle = row.vehicle
            return vehicle.status == .active && owners[row.owner]?.status == "ACTIVE"
                && (caller.1 == .platform || vehicle.ownershipType == .vendorOwned || row.owner == caller.0)
                && (filters.make.map { $0.value.lowercased() == vehicle.make.lowercased() } ?? true)
                && (filters.model.map { $0.value.lowercased() == vehicle.model.lowercased() } ?? true)
                && (filters.vendorOrganizationId.map { $0.value == vehicle.organizationId } ?? true)
                && (filters.ownershipType == .unspecified || filters.ownershipType == vehicle.ownershipType)
                && (filters.yearMin.map { vehicle.year >= $0.value } ?? true) && (filters.yearMax.map { vehicle.year <= $0.value } ?? true)
        }
    }

    /// Whether a booking of `[start, end)` (microseconds) would be free: its period extended by
    /// the owner's buffer overlaps no open record's `blocked` range.
    func free(_ row: Row, from start: Int64, to end: Int64) -> Bool {
        let extended = end + (owners[row.owner]?.minutes ?? 0) * 60_000_000
        return !(held[row.id] ?? []).contains { lower, upper in lower < extended && (upper.map { $0 > start } ?? true) }
    }

    func free(window: CommonV1.Period, _ filters: FleetV1.VehicleSearchFilters, _ caller: (UUID, TenantKind)) -> [String] {
        let start = window.start!.seconds * 1_000_000, end = window.end!.seconds * 1_000_000
        return listed(filters, caller).filter { free($0, from: start, to: end) }.map(\.id)
    }

    /// Each listing's earliest start in `[earliest, latest]` (seconds) from which it is free for
    /// `minutes`: the earliest start is `earliest` or the end of a record, so only those are tried.
    func flexible(
        earliest: Int64, latest: Int64, minutes: Int64, _ filters: FleetV1.VehicleSearchFilters, _ caller: (UUID, TenantKind)
    ) -> [(String, Int64)] {
        let first = earliest * 1_000_000, last = latest * 1_000_000, length = minutes * 60_000_000
        return listed(filters, caller).compactMap { row in
            let candidates = ([first] + (held[row.id] ?? []).compactMap(\.1).filter { $0 > first && $0 <= last }).sorted()
            return candidates.first { free(row, from: $0, to: $0 + length) }.map { (row.id, $0 / 1_000_000) }
        }
    }
}
