import Foundation
@testable import FleetContext
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import Testing

@Suite("Vehicles: registration, lifecycle, validation")
struct VehicleLifecycleTests {
    @Test("registration: PENDING, plate normalized and unique among non-retired vehicles, ownership fits the owner")
    func registration() async throws {
        let world = try await FleetWorld.make()
        let vendor = try await world.organization(.vendor)
        let corporate = try await world.organization(.corporate)
        let context = world.context(vendor, .vendor)
        func register(_ plate: String, _ ownership: FleetV1.OwnershipType = .vendorOwned, _ ctx: ServerCallContext? = nil) async throws -> FleetV1.Vehicle {
            try await world.handler.registerVehicle(FleetV1.RegisterVehicleRequest(
                ownershipType: ownership, make: "Maruti", model: "Swift", year: 2022, licensePlate: plate
            ), context: ctx ?? context).vehicle!
        }
        let first = try await register(" ka 01 ab 1234 ")
        #expect(first.licensePlate == "KA01AB1234" && first.status == .pending && first.version == 1)
        await #expect { try await register("KA01AB1234") } throws: { $0.domainCode == "DUPLICATE_LICENSE_PLATE" && $0.rpcCode == .alreadyExists }
        await #expect { try await register("KA02", .corporateOwned) } throws: { $0.domainCode == "OWNERSHIP_TYPE_MISMATCH" }
        await #expect { try await register("KA03", .vendorOwned, world.context(corporate, .corporate)) } throws: { $0.domainCode == "OWNERSHIP_TYPE_MISMATCH" }
        _ = try await world.handler.retireVehicle(FleetV1.RetireVehicleRequest(vehicleId: first.id), context: context)
        let again = try await register("KA01AB1234")
        #expect(again.id != first.id, "a retired vehicle's plate can be registered again")
        let pendingVendor = try await world.organization(.vendor, status: "PENDING")
        await #expect { try await register("KA04", .vendorOwned, world.context(pendingVendor, .vendor)) } throws: { $0.domainCode == "ORGANIZATION_NOT_ACTIVE" }
        await world.pool.close()
    }

    @Test("bad input is refused with every field violation, and nothing is written", arguments: [
        (FleetV1.RegisterVehicleRequest(ownershipType: .vendorOwned, make: "", model: "X", year: 2020, licensePlate: "A1"), ["make"]),
        (FleetV1.RegisterVehicleRequest(ownershipType: .vendorOwned, make: "M", model: "X", year: 1899, licensePlate: "A1"), ["year"]),
        (FleetV1.RegisterVehicleRequest(ownershipType: .vendorOwned, make: "M", model: "X", year: 2101, licensePlate: "A1"), ["year"]),
        (FleetV1.RegisterVehicleRequest(ownershipType: .unspecified, make: "M", model: "X", year: 2020, licensePlate: "A1"), ["ownershipType"]),
        (FleetV1.RegisterVehicleRequest(ownershipType: .unrecognized(9), make: "M", model: "X", year: 2020, licensePlate: "A1"), ["ownershipType"]),
        (FleetV1.RegisterVehicleRequest(ownershipType: .vendorOwned, make: "M", model: "X", year: 2020, licensePlate: "A1;DROP"), ["licensePlate"]),
        (FleetV1.RegisterVehicleRequest(ownershipType: .vendorOwned, make: String(repeating: "m", count: 101), model: "", year: 0, licensePlate: ""),
         ["make", "model", "year", "licensePlate"]),
    ])
    func validation(request: FleetV1.RegisterVehicleRequest, fields: [String]) async throws {
        let world = try await FleetWorld.make()
        let vendor = try await world.organization(.vendor)
        do {
            _ = try await world.handler.registerVehicle(request, context: world.context(vendor, .vendor))
            Issue.record("accepted")
        } catch let error as RPCError {
            #expect(error.code == .invalidArgument)
            #expect(error.fieldViolations.map(\.field) == fields)
        }
        #expect(try await world.count("SELECT count(*)::int FROM fleet.vehicle") == 0)
        #expect(try await world.count("SELECT count(*)::int FROM karokar_events.outbox WHERE event_type LIKE 'vehicle.%'") == 0)
        await world.pool.close()
    }

    @Test("activation: once, with an active owner; stale versions are refused")
    func activation() async throws {
        let world = try await FleetWorld.make()
        let vendor = try await world.organization(.vendor)
        let context = world.context(vendor, .vendor)
        let vehicle = try await world.activeVehicle(vendor, .vendor)
        #expect(vehicle.status == .active && vehicle.version == 2)
        await #expect { _ = try await world.handler.activateVehicle(.init(vehicleId: vehicle.id), context: context) } throws: {
            $0.domainCode == "INVALID_VEHICLE_TRANSITION"
        }
        await #expect {
            _ = try await world.handler.updateVehicleDetails(.init(vehicleId: vehicle.id, make: .init(value: "Kia"), expectedVersion: .init(value: 1)), context: context)
        } throws: { $0.domainCode == "STALE_VERSION" && $0.rpcCode == .aborted }
        let updated = try await world.handler.updateVehicleDetails(
            .init(vehicleId: vehicle.id, make: .init(value: "Kia"), expectedVersion: .init(value: 2)), context: context
        ).vehicle!
        #expect(updated.make == "Kia" && updated.model == vehicle.model && updated.version == 3)
        let types = try await world.pool.query("SELECT event_type FROM karokar_events.outbox WHERE aggregate_id = \(vehicle.id) ORDER BY seq")
            .map { try $0.decode(String.self, "event_type") }
        #expect(types == ["vehicle.registered", "vehicle.activated", "vehicle.details_updated"])
        await world.pool.close()
    }

    @Test("maintenance: scheduling holds the vehicle at once; completing or cancelling releases it; wrong moves are refused")
    func maintenance() async throws {
        let world = try await FleetWorld.make()
        let vendor = try await world.organization(.vendor)
        let context = world.context(vendor, .vendor)
        let vehicle = try await world.activeVehicle(vendor, .vendor)
        let scheduled = try await world.handler.scheduleMaintenance(.init(vehicleId: vehicle.id, period: period(1, 3), reason: "tyres"), context: context).maintenance!
        #expect(try await !isFree(world, vehicle, 2, 2.5))
        await #expect { _ = try await world.handler.completeMaintenance(.init(maintenanceId: scheduled.id), context: context) } throws: {
            $0.domainCode == "INVALID_MAINTENANCE_TRANSITION"
        }
        let started = try await world.handler.startMaintenance(.init(maintenanceId: scheduled.id, expectedVersion: .init(value: 1)), context: context).maintenance!
        #expect(started.status == .inProgress && started.startedAt != nil)
        let completed = try await world.handler.completeMaintenance(.init(maintenanceId: scheduled.id), context: context).maintenance!
        #expect(completed.status == .completed)
        #expect(try await isFree(world, vehicle, 2, 2.5), "released")
        let second = try await world.handler.scheduleMaintenance(.init(vehicleId: vehicle.id, period: period(5, 6), reason: "oil"), context: context).maintenance!
        let cancelled = try await world.handler.cancelMaintenance(.init(maintenanceId: second.id, reason: .init(value: "not needed")), context: context).maintenance!
        #expect(cancelled.status == .cancelled && cancelled.cancellationReason?.value == "not needed")
        #expect(try await isFree(world, vehicle, 5, 6))
        let timeline = try await world.availability.getVehicleTimeline(.init(vehicleId: vehicle.id, period: period(0, 10), includeReleased: true), context: context)
        #expect(timeline.records.count == 2 && timeline.records.allSatisfy { $0.releasedAt != nil }, "history is kept")
        await world.pool.close()
    }

    @Test("suspensions: SUSPENDED while any is open, ACTIVE after the last is lifted; who may lift what")
    func suspensions() async throws {
        let world = try await FleetWorld.make()
        let vendor = try await world.organization(.vendor)
        let platform = try await world.organization(.platform)
        let owner = world.context(vendor, .vendor)
        let admin = world.context(platform, .platform)
        let vehicle = try await world.activeVehicle(vendor, .vendor)
        await #expect { _ = try await world.handler.suspendVehicle(.init(vehicleId: vehicle.id, reason: .adminAction, period: openPeriod(1)), context: owner) } throws: {
            ($0 as? RPCError)?.fieldViolations.first?.field == "reason"
        }
        let own = try await world.handler.suspendVehicle(.init(vehicleId: vehicle.id, reason: .vendorRequest, period: openPeriod(1, 5)), context: owner)
        #expect(own.vehicle?.status == .suspended)
        let byAdmin = try await world.handler.suspendVehicle(.init(vehicleId: vehicle.id, reason: .adminAction, period: openPeriod(2)), context: admin)
        await #expect { _ = try await world.handler.liftSuspension(.init(suspensionId: byAdmin.suspension!.id), context: owner) } throws: {
            $0.rpcCode == .permissionDenied
        }
        let first = try await world.handler.liftSuspension(.init(suspensionId: own.suspension!.id), context: owner)
        #expect(first.vehicle?.status == .suspended, "another suspension is still open")
        let last = try await world.handler.liftSuspension(.init(suspensionId: byAdmin.suspension!.id), context: admin)
        #expect(last.vehicle?.status == .active && last.suspension?.liftedAt != nil)
        await #expect { _ = try await world.handler.liftSuspension(.init(suspensionId: byAdmin.suspension!.id), context: admin) } throws: {
            $0.domainCode == "SUSPENSION_ALREADY_LIFTED"
        }
        #expect(try await isFree(world, vehicle, 3, 4))
        await world.pool.close()
    }

    @Test("document expiry sweep: dry run reports, a run suspends once per reason, lifting needs a valid document again")
    func expirySweep() async throws {
        let world = try await FleetWorld.make()
        let vendor = try await world.organization(.vendor)
        let owner = world.context(vendor, .vendor)
        let vehicle = try await world.activeVehicle(vendor, .vendor)
        let now = Int64(Date().timeIntervalSince1970)
        let day: Int64 = 86_400
        _ = try await world.handler.addVehicleDocument(.init(
            vehicleId: vehicle.id, type: .insurance, number: "POL-1", issuedAt: .init(seconds: now - 400 * day), expiresAt: .init(seconds: now - 10 * day)
        ), context: owner)
        _ = try await world.handler.addVehicleDocument(.init(
            vehicleId: vehicle.id, type: .registration, number: "REG-1", issuedAt: .init(seconds: now - 10 * day), expiresAt: .init(seconds: now + 300 * day)
        ), context: owner)
        let asOf = CommonV1.Timestamp(seconds: now)
        let dry = try await world.handler.runDocumentExpirySweep(.init(asOf: asOf, dryRun: true), context: owner)
        #expect(dry.findings.count == 1 && dry.findings[0].documentType == .insurance && dry.suspensionsOpened == 0)
        #expect(try await world.count("SELECT count(*)::int FROM fleet.suspension") == 0)
        let run = try await world.handler.runDocumentExpirySweep(.init(asOf: asOf), context: owner)
        #expect(run.suspensionsOpened == 1 && run.findings[0].suspensionId != nil)
        let again = try await world.handler.runDocumentExpirySweep(.init(asOf: asOf), context: owner)
        #expect(again.suspensionsOpened == 0, "one open suspension per reason")
        let suspension = try await world.handler.listSuspensions(.init(vehicleId: vehicle.id), context: owner).suspensions.first!
        #expect(suspension.reason == .insuranceExpired)
        await #expect { _ = try await world.handler.liftSuspension(.init(suspensionId: suspension.id), context: owner) } throws: {
            $0.domainCode == "DOCUMENT_EXPIRED"
        }
        _ = try await world.handler.addVehicleDocument(.init(
            vehicleId: vehicle.id, type: .insurance, number: "POL-2", issuedAt: .init(seconds: now - 60), expiresAt: .init(seconds: now + 86_400 * 365)
        ), context: owner)
        let lifted = try await world.handler.liftSuspension(.init(suspensionId: suspension.id), context: owner)
        #expect(lifted.vehicle?.status == .active)
        await world.pool.close()
    }

    @Test("retiring: refused while a booking holds the vehicle; otherwise everything open is closed")
    func retirement() async throws {
        let world = try await FleetWorld.make()
        let vendor = try await world.organization(.vendor)
        let owner = world.context(vendor, .vendor)
        let vehicle = try await world.activeVehicle(vendor, .vendor)
        let booking = UUID().postgresText
        _ = try await world.availability.createAvailabilityRecord(.init(vehicleId: vehicle.id, period: openPeriod(10, 12), status: .reserved, sourceType: .booking, sourceId: booking), context: owner)
        _ = try await world.handler.scheduleMaintenance(.init(vehicleId: vehicle.id, period: period(1, 2), reason: "r"), context: owner)
        _ = try await world.handler.placeBlock(.init(vehicleId: vehicle.id, period: period(3, 4), reason: "r"), context: owner)
        _ = try await world.handler.suspendVehicle(.init(vehicleId: vehicle.id, reason: .vendorRequest, period: openPeriod(20)), context: owner)
        await #expect { _ = try await world.handler.retireVehicle(.init(vehicleId: vehicle.id), context: owner) } throws: { $0.domainCode == "VEHICLE_IN_USE" }
        _ = try await world.availability.releaseAvailability(.init(sourceType: .booking, sourceId: booking), context: owner)
        let retired = try await world.handler.retireVehicle(.init(vehicleId: vehicle.id, reason: .init(value: "sold")), context: owner).vehicle!
        #expect(retired.status == .retired)
        #expect(try await world.count("SELECT count(*)::int FROM fleet.availability WHERE released_at IS NULL") == 0)
        #expect(try await world.count("SELECT count(*)::int FROM fleet.maintenance WHERE status = 'CANCELLED'") == 1)
        #expect(try await world.count("SELECT count(*)::int FROM fleet.suspension WHERE lifted_at IS NOT NULL") == 1)
        await #expect { _ = try await world.handler.retireVehicle(.init(vehicleId: vehicle.id), context: owner) } throws: { $0.domainCode == "INVALID_VEHICLE_TRANSITION" }
        await world.pool.close()
    }

    private func isFree(_ world: FleetWorld, _ vehicle: FleetV1.Vehicle, _ start: Double, _ end: Double) async throws -> Bool {
        try await world.availability.checkAvailability(.init(vehicleId: vehicle.id, period: openPeriod(start, end)), context: world.context(UUID(uuidString: vehicle.organizationId)!, .vendor)).available
    }
}
