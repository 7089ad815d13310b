import Foundation
@testable import FleetContext
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import Testing

/// Whose holds are whose (issue 19): a block the platform placed is not the owner's to remove
/// (finding 6), and a source id names the caller's own records only, so another tenant's use of
/// the same id neither shows nor stands in the way (finding 8).
@Suite("Fleet: the platform's blocks and tenants' source ids")
struct OwnershipOfHoldsTests {
    @Test func theOwnerCannotRemoveABlockThePlatformPlaced() async throws {
        let world = try await FleetWorld.make()
        let vendor = try await world.organization(.vendor)
        let platform = world.context(try await world.organization(.platform), .platform)
        let owner = world.context(vendor, .vendor)
        let vehicle = try await world.activeVehicle(vendor, .vendor)
        let moderated = try await world.handler.placeBlock(.init(vehicleId: vehicle.id, period: period(1, 2), reason: "moderation"), context: platform).block!
        #expect(moderated.placedByPlatform)
        await #expect(throws: DomainError.permissionDenied("only platform administrators remove a block the platform placed")) {
            _ = try await world.handler.removeBlock(.init(blockId: moderated.id), context: owner)
        }
        #expect(try await world.count("SELECT count(*)::int AS n FROM fleet.block WHERE removed_at IS NULL") == 1, "nothing changed")
        let own = try await world.handler.placeBlock(.init(vehicleId: vehicle.id, period: period(3, 4), reason: "workshop"), context: owner).block!
        #expect(!own.placedByPlatform)
        _ = try await world.handler.removeBlock(.init(blockId: own.id), context: owner)
        _ = try await world.handler.removeBlock(.init(blockId: moderated.id), context: platform)
        #expect(try await world.count("SELECT count(*)::int AS n FROM fleet.block WHERE removed_at IS NULL") == 0)
    }

    @Test func aSourceIdNamesTheCallersOwnRecordsOnly() async throws {
        let world = try await FleetWorld.make()
        let victim = try await world.organization(.vendor), attacker = try await world.organization(.vendor)
        let victimVehicle = try await world.activeVehicle(victim, .vendor)
        let attackerVehicle = try await world.activeVehicle(attacker, .vendor)
        let source = UUID().lowercasedString
        func reserve(_ vehicle: FleetV1.Vehicle, _ owner: UUID, _ days: (Double, Double)) async throws {
            _ = try await world.availability.createAvailabilityRecord(.init(
                vehicleId: vehicle.id, period: openPeriod(days.0, days.1), status: .reserved, sourceType: .booking, sourceId: source
            ), context: world.context(owner, .vendor))
        }
        try await reserve(victimVehicle, victim, (1, 2))
        // The attacker names the victim's source id for a record of its own.
        try await reserve(attackerVehicle, attacker, (1, 2))
        let probe = try await world.availability.releaseAvailability(
            .init(sourceType: .booking, sourceId: UUID().lowercasedString), context: world.context(attacker, .vendor)
        )
        #expect(probe.records.isEmpty, "a random id: nothing")
        // The victim releases its own record; the attacker's is not in the way, and is untouched.
        let released = try await world.availability.releaseAvailability(
            .init(sourceType: .booking, sourceId: source), context: world.context(victim, .vendor)
        )
        #expect(released.records.map(\.vehicleId) == [victimVehicle.id])
        #expect(try await world.count("SELECT count(*)::int AS n FROM fleet.availability WHERE released_at IS NULL AND source_id = \(UUID(hyphenated: source)!)") == 1)
        // The attacker's release of the same id finds only its own record.
        let theirs = try await world.availability.releaseAvailability(.init(sourceType: .booking, sourceId: source), context: world.context(attacker, .vendor))
        #expect(theirs.records.map(\.vehicleId) == [attackerVehicle.id])
    }
}
