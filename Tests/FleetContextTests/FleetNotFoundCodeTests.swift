import Foundation
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// Issue 19, finding 12: NOT_FOUND names the entity in its domain code, as PROTOCOL.md says
/// (section 7.5, example F), and says the same for what does not exist and for what belongs to
/// another tenant.
@Suite("Fleet: not-found domain codes name the entity")
struct FleetNotFoundCodeTests {
    @Test("an unknown vehicle and another tenant's are both NOT_FOUND / VEHICLE_NOT_FOUND, message alike; an unknown maintenance record is MAINTENANCE_RECORD_NOT_FOUND")
    func codes() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let other = try await market.onboard(.vendor)
            let fleet = FleetV1.FleetService.Client(market.client)
            let theirs = try await fleet.registerVehicle(.init(
                ownershipType: .vendorOwned, make: "Tata", model: "Nexon", year: 2024, licensePlate: "KA\(UUID().uuidString.prefix(8))"
            ), options: other.admin.callOptions).vehicle!
            var messages: Set<String> = []
            for id in [UUID().uuidString.lowercased(), theirs.id] {
                do {
                    _ = try await fleet.getVehicle(.init(vehicleId: id), options: vendor.admin.callOptions)
                    Issue.record("found \(id)")
                } catch let error as RPCError {
                    #expect(error.code == .notFound)
                    #expect(error.domainCode == "VEHICLE_NOT_FOUND")
                    messages.insert(error.message)
                }
            }
            #expect(messages == ["vehicle not found"], "existence does not leak through the message either")
            await expectCode(.notFound, domainCode: "MAINTENANCE_RECORD_NOT_FOUND") {
                _ = try await fleet.getMaintenance(.init(maintenanceId: UUID().uuidString.lowercased()), options: vendor.admin.callOptions)
            }
        }
    }
}
