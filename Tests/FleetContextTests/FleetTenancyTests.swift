import Foundation
@testable import FleetContext
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import Testing

/// Another tenant's ids in every Fleet RPC, as an attacker would try them: NOT_FOUND (existence
/// does not leak) and not one row of Fleet's schema or the outbox changes.
@Suite("Fleet tenancy: cross-tenant attempts reveal and change nothing")
struct FleetTenancyTests {
    @Test("another vendor and a corporate aim every verb at a vendor's vehicles and records", arguments: [TenantKind.vendor, .corporate])
    func crossTenant(attackerKind: TenantKind) async throws {
        let world = try await FleetWorld.make()
        let victim = try await world.organization(.vendor)
        let owner = world.context(victim, .vendor)
        let vehicle = try await world.activeVehicle(victim, .vendor)
        let pending = try await world.handler.registerVehicle(.init(ownershipType: .vendorOwned, make: "A", model: "B", year: 2020, licensePlate: "HIDDEN1"), context: owner).vehicle!
        let maintenance = try await world.handler.scheduleMaintenance(.init(vehicleId: vehicle.id, period: period(1, 2), reason: "r"), context: owner).maintenance!
        let block = try await world.handler.placeBlock(.init(vehicleId: vehicle.id, period: period(3, 4), reason: "r"), context: owner).block!
        let booking = UUID().postgresText
        let record = try await world.availability.createAvailabilityRecord(.init(
            vehicleId: vehicle.id, period: openPeriod(5, 6), status: .reserved, sourceType: .booking, sourceId: booking
        ), context: owner).record!
        let now = Int64(Date().timeIntervalSince1970)
        _ = try await world.handler.addVehicleDocument(.init(
            vehicleId: vehicle.id, type: .insurance, number: "P", issuedAt: .init(seconds: now - 1000), expiresAt: .init(seconds: now - 10)
        ), context: owner)
        let suspension = try await world.handler.suspendVehicle(.init(vehicleId: vehicle.id, reason: .vendorRequest, period: openPeriod(10)), context: owner).suspension!

        let attacker = world.context(try await world.organization(attackerKind), attackerKind)
        let before = try await snapshot(world)
        let h = world.handler, a = world.availability
        let attempts: [(String, @Sendable () async throws -> Void)] = [
            ("GetVehicle", { _ = try await h.getVehicle(.init(vehicleId: vehicle.id), context: attacker) }),
            ("GetVehicle pending", { _ = try await h.getVehicle(.init(vehicleId: pending.id), context: attacker) }),
            ("ListFleet", { _ = try await h.listFleet(.init(organizationId: victim.postgresText), context: attacker) }),
            ("UpdateVehicleDetails", { _ = try await h.updateVehicleDetails(.init(vehicleId: vehicle.id, make: .init(value: "X")), context: attacker) }),
            ("ActivateVehicle", { _ = try await h.activateVehicle(.init(vehicleId: pending.id), context: attacker) }),
            ("RetireVehicle", { _ = try await h.retireVehicle(.init(vehicleId: pending.id), context: attacker) }),
            ("ScheduleMaintenance", { _ = try await h.scheduleMaintenance(.init(vehicleId: vehicle.id, period: period(7, 8), reason: "x"), context: attacker) }),
            ("StartMaintenance", { _ = try await h.startMaintenance(.init(maintenanceId: maintenance.id), context: attacker) }),
            ("CompleteMaintenance", { _ = try await h.completeMaintenance(.init(maintenanceId: maintenance.id), context: attacker) }),
            ("CancelMaintenance", { _ = try await h.cancelMaintenance(.init(maintenanceId: maintenance.id), context: attacker) }),
            ("GetMaintenance", { _ = try await h.getMaintenance(.init(maintenanceId: maintenance.id), context: attacker) }),
            ("ListMaintenance", { _ = try await h.listMaintenance(.init(vehicleId: vehicle.id), context: attacker) }),
            ("SuspendVehicle", { _ = try await h.suspendVehicle(.init(vehicleId: pending.id, reason: .vendorRequest, period: openPeriod(1)), context: attacker) }),
            ("LiftSuspension", { _ = try await h.liftSuspension(.init(suspensionId: suspension.id), context: attacker) }),
            ("ListSuspensions", { _ = try await h.listSuspensions(.init(vehicleId: vehicle.id), context: attacker) }),
            ("PlaceBlock", { _ = try await h.placeBlock(.init(vehicleId: vehicle.id, period: period(8, 9), reason: "x"), context: attacker) }),
            ("RemoveBlock", { _ = try await h.removeBlock(.init(blockId: block.id), context: attacker) }),
            ("ListBlocks", { _ = try await h.listBlocks(.init(vehicleId: vehicle.id), context: attacker) }),
            ("AddVehicleDocument", { _ = try await h.addVehicleDocument(.init(vehicleId: vehicle.id, type: .other, number: "x", issuedAt: .init(seconds: now)), context: attacker) }),
            ("ListVehicleDocuments", { _ = try await h.listVehicleDocuments(.init(vehicleId: vehicle.id), context: attacker) }),
            ("CheckAvailability", { _ = try await a.checkAvailability(.init(vehicleId: vehicle.id, period: openPeriod(7, 8)), context: attacker) }),
            ("CreateAvailabilityRecord", { _ = try await a.createAvailabilityRecord(.init(vehicleId: vehicle.id, period: openPeriod(7, 8), status: .reserved, sourceType: .booking, sourceId: UUID().postgresText), context: attacker) }),
            ("ChangeAvailabilityStatus", { _ = try await a.changeAvailabilityStatus(.init(recordId: record.id, status: .allocated), context: attacker) }),
            ("GetVehicleTimeline", { _ = try await a.getVehicleTimeline(.init(vehicleId: vehicle.id, period: period(0, 30)), context: attacker) }),
        ]
        for (name, attempt) in attempts {
            do {
                try await attempt()
                Issue.record("\(name) succeeded for another tenant")
            } catch {
                #expect(error.rpcCode == .notFound, "\(name): \(error)")
            }
        }
        // A source id names the caller's own records: another tenant's answers as a random one does.
        let release = try await a.releaseAvailability(.init(sourceType: .booking, sourceId: booking), context: attacker)
        #expect(release.records.isEmpty, "ReleaseAvailability reached another tenant's record")
        let sweep = try await h.runDocumentExpirySweep(.init(), context: attacker)
        #expect(sweep.findings.isEmpty, "a tenant's sweep sees only its own fleet")
        #expect(try await snapshot(world) == before, "nothing changed")
        await world.pool.close()
    }

    /// Every row of Fleet's tables and of the outbox, hashed.
    private func snapshot(_ world: FleetWorld) async throws -> String {
        try await world.pool.query("""
            SELECT md5(concat_ws('|',
                (SELECT string_agg(t::text, ',' ORDER BY t.id) FROM fleet.vehicle t),
                (SELECT string_agg(t::text, ',' ORDER BY t.id) FROM fleet.availability t),
                (SELECT string_agg(t::text, ',' ORDER BY t.id) FROM fleet.maintenance t),
                (SELECT string_agg(t::text, ',' ORDER BY t.id) FROM fleet.suspension t),
                (SELECT string_agg(t::text, ',' ORDER BY t.id) FROM fleet.block t),
                (SELECT string_agg(t::text, ',' ORDER BY t.id) FROM fleet.document t),
                (SELECT count(*) FROM karokar_events.outbox))) AS digest
            """).single().decode(String.self, "digest")
    }
}
