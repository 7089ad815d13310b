import Foundation
@testable import FleetContext
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import Testing

@Suite("Availability invariants, enforced by the database")
struct AvailabilityInvariantTests {
    @Test("64 concurrent reservations for overlapping periods of one vehicle: exactly one wins")
    func concurrentReservations() async throws {
        let world = try await FleetWorld.make()
        let vendor = try await world.organization(.vendor)
        let vehicle = try await world.activeVehicle(vendor, .vendor)
        let outcomes = try await concurrently(64) { index in
            // Every period contains day 10; starts and ends differ.
            try await world.availability.createAvailabilityRecord(FleetV1.CreateAvailabilityRecordRequest(
                vehicleId: vehicle.id, period: openPeriod(Double(index % 9) + 1, 10.5 + Double(index % 5)),
                status: .reserved, sourceType: .booking, sourceId: UUID().postgresText
            ), context: world.context(vendor, .vendor))
        }
        #expect(outcomes.successes == 1)
        #expect(outcomes.codes == ["VEHICLE_NOT_AVAILABLE": 63])
        #expect(try await world.count("SELECT count(*)::int FROM fleet.availability WHERE vehicle_id = \(UUID(uuidString: vehicle.id)!) AND released_at IS NULL") == 1)
        await world.pool.close()
    }

    @Test("the database alone refuses overlaps: 64 raw concurrent inserts, no application lock, one wins")
    func rawConcurrentInserts() async throws {
        let world = try await FleetWorld.make()
        let vendor = try await world.organization(.vendor)
        let vehicle = UUID(uuidString: try await world.activeVehicle(vendor, .vendor).id)!
        let outcomes = try await concurrently(64) { index in
            try await world.pool.query("""
                INSERT INTO fleet.availability (id, vehicle_id, organization_id, period, status, source_type, source_id)
                VALUES (\(UUID()), \(vehicle), \(vendor), tstzrange('2027-07-01'::timestamptz + \(index % 7) * interval '1 hour', '2027-07-03', '[)'),
                        \(index % 2 == 0 ? "RESERVED" : "MAINTENANCE"), \(index % 2 == 0 ? "BOOKING" : "MAINTENANCE"), \(UUID()))
                """)
        }
        #expect(outcomes.successes == 1)
        #expect(outcomes.failures.allSatisfy { ($0 as? PostgresError)?.code == .exclusionViolation })
        await world.pool.close()
    }

    @Test("maintenance against a reservation, 32 of each at once: exactly one of all 64 wins")
    func maintenanceAgainstReservation() async throws {
        let world = try await FleetWorld.make()
        let vendor = try await world.organization(.vendor)
        let vehicle = try await world.activeVehicle(vendor, .vendor)
        let context = world.context(vendor, .vendor)
        let outcomes = try await concurrently(64) { index in
            if index % 2 == 0 {
                _ = try await world.handler.scheduleMaintenance(FleetV1.ScheduleMaintenanceRequest(
                    vehicleId: vehicle.id, period: period(3, 6), reason: "service"
                ), context: context)
            } else {
                _ = try await world.availability.createAvailabilityRecord(FleetV1.CreateAvailabilityRecordRequest(
                    vehicleId: vehicle.id, period: openPeriod(5, 9), status: .reserved, sourceType: .booking, sourceId: UUID().postgresText
                ), context: context)
            }
        }
        #expect(outcomes.successes == 1)
        #expect(outcomes.codes == ["VEHICLE_NOT_AVAILABLE": 63])
        await world.pool.close()
    }

    @Test("blocks over an open-ended suspension all fail; over a free window exactly one of 64 wins")
    func blocksAndSuspensions() async throws {
        let world = try await FleetWorld.make()
        let vendor = try await world.organization(.vendor)
        let vehicle = try await world.activeVehicle(vendor, .vendor)
        let context = world.context(vendor, .vendor)
        _ = try await world.handler.suspendVehicle(FleetV1.SuspendVehicleRequest(
            vehicleId: vehicle.id, reason: .vendorRequest, period: openPeriod(30)
        ), context: context)
        let over = try await concurrently(64) { index in
            _ = try await world.handler.placeBlock(FleetV1.PlaceBlockRequest(
                vehicleId: vehicle.id, period: period(29.5 + Double(index), 31 + Double(index)), reason: "hold"
            ), context: context)
        }
        #expect(over.successes == 0)
        #expect(over.codes == ["VEHICLE_NOT_AVAILABLE": 64])
        let free = try await concurrently(64) { index in
            _ = try await world.handler.placeBlock(FleetV1.PlaceBlockRequest(
                vehicleId: vehicle.id, period: period(1 + Double(index % 3) * 0.1, 5), reason: "hold"
            ), context: context)
        }
        #expect(free.successes == 1)
        await world.pool.close()
    }

    @Test("boundaries: back-to-back periods both fit, a one-second overlap does not, an open suspension blocks everything after its start")
    func boundaries() async throws {
        let world = try await FleetWorld.make()
        let vendor = try await world.organization(.vendor)
        let vehicle = try await world.activeVehicle(vendor, .vendor)
        let context = world.context(vendor, .vendor)
        func block(_ start: CommonV1.Timestamp, _ end: CommonV1.Timestamp) async throws {
            _ = try await world.handler.placeBlock(FleetV1.PlaceBlockRequest(
                vehicleId: vehicle.id, period: CommonV1.Period(start: start, end: end), reason: "b"
            ), context: context)
        }
        let day = { (value: Double) in days(value, nil).0 }
        try await block(day(1), day(10))
        try await block(day(10), day(20))
        let oneSecondEarly = CommonV1.Timestamp(seconds: day(20).seconds - 1)
        await #expect { try await block(oneSecondEarly, day(25)) } throws: { $0.domainCode == "VEHICLE_NOT_AVAILABLE" }
        try await block(day(20), day(25))
        _ = try await world.handler.suspendVehicle(FleetV1.SuspendVehicleRequest(vehicleId: vehicle.id, reason: .vendorRequest, period: openPeriod(40)), context: context)
        try await block(day(30), day(40))  // ends where the suspension starts
        await #expect { try await block(day(500), day(501)) } throws: { $0.domainCode == "VEHICLE_NOT_AVAILABLE" }
        await #expect { try await block(day(39), day(41)) } throws: { $0.domainCode == "VEHICLE_NOT_AVAILABLE" }
        await world.pool.close()
    }

    @Test("records are history: no deletes, no moved periods, no un-release; status only RESERVED -> ALLOCATED")
    func recordsAreHistory() async throws {
        let world = try await FleetWorld.make()
        let vendor = try await world.organization(.vendor)
        let vehicle = try await world.activeVehicle(vendor, .vendor)
        let record = try await world.availability.createAvailabilityRecord(FleetV1.CreateAvailabilityRecordRequest(
            vehicleId: vehicle.id, period: openPeriod(1, 2), status: .reserved, sourceType: .booking, sourceId: UUID().postgresText
        ), context: world.context(vendor, .vendor)).record!
        let id = UUID(uuidString: record.id)!
        for statement: SQL in [
            "DELETE FROM fleet.availability WHERE id = \(id)",
            "UPDATE fleet.availability SET period = tstzrange('2030-01-01', '2030-01-02') WHERE id = \(id)",
            "UPDATE fleet.availability SET status = 'MAINTENANCE' WHERE id = \(id)",
        ] {
            await #expect(throws: PostgresError.self) { try await world.pool.query(statement) }
        }
        try await world.pool.query("UPDATE fleet.availability SET released_at = now() WHERE id = \(id)")
        await #expect(throws: PostgresError.self) { try await world.pool.query("UPDATE fleet.availability SET released_at = NULL WHERE id = \(id)") }
        #expect(try await world.count("SELECT count(*)::int FROM fleet.availability") == 1)
        await world.pool.close()
    }

    @Test("a vehicle is SUSPENDED exactly while a suspension is open, checked at commit")
    func suspensionStatusAgreement() async throws {
        let world = try await FleetWorld.make()
        let vendor = try await world.organization(.vendor)
        let vehicle = try await world.activeVehicle(vendor, .vendor)
        _ = try await world.handler.suspendVehicle(FleetV1.SuspendVehicleRequest(vehicleId: vehicle.id, reason: .vendorRequest, period: openPeriod(1)), context: world.context(vendor, .vendor))
        await #expect(throws: PostgresError.self) {
            try await world.pool.query("UPDATE fleet.vehicle SET status = 'ACTIVE' WHERE id = \(UUID(uuidString: vehicle.id)!)")
        }
        #expect(try await world.count("SELECT count(*)::int FROM fleet.vehicle WHERE status = 'SUSPENDED'") == 1)
        await world.pool.close()
    }
}

struct Outcomes {
    var successes = 0
    var failures: [any Error] = []
    var codes: [String: Int] {
        failures.reduce(into: [:]) { $0[$1.domainCode ?? "\($1)", default: 0] += 1 }
    }
}

/// Runs `body` `count` times at once; collects how many succeeded and the errors of the rest.
func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) async throws -> some Sendable) async throws -> Outcomes {
    await withTaskGroup(of: (any Error)?.self) { group in
        for index in 0..<count {
            group.addTask {
                do {
                    _ = try await body(index)
                    return nil
                } catch {
                    return error
                }
            }
        }
        var outcomes = Outcomes()
        for await error in group {
            if let error { outcomes.failures.append(error) } else { outcomes.successes += 1 }
        }
        return outcomes
    }
}
