import Foundation
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// The platform dashboard's vehicle counts over TCP: Administration's read model, fed after
/// commit by Fleet's lifecycle events (no import of Fleet).
@Suite("Administration: the dashboard's vehicle counts", .serialized)
struct DashboardTests {
    static func counts(_ market: TestMarketplace, _ platform: TestSession) async throws -> [AdministrationV1.VehicleStatus: Int64] {
        let counts = try await market.administration.getDashboardCounts(.init(), options: platform.callOptions).counts!
        return Dictionary(uniqueKeysWithValues: counts.vehicles.map { ($0.status, $0.count) })
    }

    /// Polls until the counts are `expected` (the consumer runs after commit) or 10 s pass.
    static func eventually(
        _ expected: [AdministrationV1.VehicleStatus: Int64], _ market: TestMarketplace, _ platform: TestSession
    ) async throws -> [AdministrationV1.VehicleStatus: Int64] {
        var seen: [AdministrationV1.VehicleStatus: Int64] = [:]
        for _ in 0..<100 {
            seen = try await counts(market, platform)
            if seen == expected { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return seen
    }

    @Test("vehicles by lifecycle status: registered, activated, suspended, lifted, retired, across vendors and corporates")
    func vehiclesByStatus() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let corporate = try await market.onboard(.corporate)
            let fleet = FleetV1.FleetService.Client(market.client)
            func register(_ owner: TestOrganization) async throws -> FleetV1.Vehicle {
                try await fleet.registerVehicle(.init(
                    ownershipType: owner.type == .vendor ? .vendorOwned : .corporateOwned, make: "Mahindra", model: "XUV", year: 2023,
                    licensePlate: "DL\(UUID().uuidString.prefix(8))"
                ), options: owner.admin.callOptions).vehicle!
            }
            let pending = try await register(vendor)
            var active: [FleetV1.Vehicle] = []
            for owner in [vendor, vendor, vendor, corporate] {
                let vehicle = try await register(owner)
                _ = try await market.verifyVehicle(vehicle.id, owner: owner.admin)  // the activation gate
                active.append(try await fleet.activateVehicle(.init(vehicleId: vehicle.id), options: owner.admin.callOptions).vehicle!)
            }
            let platform = try await market.platformAdmin()
            #expect(try await Self.eventually([.pending: 1, .active: 4], market, platform) == [.pending: 1, .active: 4])
            let now = Int64(Date().timeIntervalSince1970)
            let suspended = try await fleet.suspendVehicle(.init(
                vehicleId: active[0].id, reason: .vendorRequest, period: .init(start: .init(seconds: now))
            ), options: vendor.admin.callOptions)
            _ = try await fleet.retireVehicle(.init(vehicleId: active[1].id), options: vendor.admin.callOptions)
            _ = try await fleet.retireVehicle(.init(vehicleId: pending.id), options: vendor.admin.callOptions)
            let expected: [AdministrationV1.VehicleStatus: Int64] = [.active: 2, .suspended: 1, .retired: 2]
            #expect(try await Self.eventually(expected, market, platform) == expected)
            _ = try await fleet.liftSuspension(.init(suspensionId: suspended.suspension!.id), options: vendor.admin.callOptions)
            let lifted: [AdministrationV1.VehicleStatus: Int64] = [.active: 3, .retired: 2]
            #expect(try await Self.eventually(lifted, market, platform) == lifted, "lifting the last suspension makes it ACTIVE again")
            let rows = try await market.pool.query("SELECT count(*)::int AS n FROM administration.vehicles").single()
            #expect(try rows.decode(Int.self, "n") == 5, "one row per vehicle, whatever the number of its events")
            // Only platform administrators read the dashboard.
            await expectCode(.permissionDenied) {
                _ = try await market.administration.getDashboardCounts(.init(), options: vendor.admin.callOptions)
            }
        }
    }
}
