import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// Fleet through the real server: tokens, the authorization interceptor, two server processes on
/// one database, moderation through Administration.
@Suite("Fleet over TCP: two server processes, roles, moderation, search")
struct FleetOverTCPTests {
    @Test("64 concurrent overlapping requests through two karokar-server processes: exactly one wins, each time")
    func twoServerProcesses() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let fleet = FleetV1.FleetService.Client(market.client)
            let vehicle = try await activeVehicle(market, fleet, vendor)
            let servers = [
                try await ServerProcess.start(databaseURL: market.pool.configuration.connectionString),
                try await ServerProcess.start(databaseURL: market.pool.configuration.connectionString),
            ]
            let clients = servers.map { $0.client() }
            let options = vendor.admin.callOptions

            // Reservations: every period contains day 10.
            let reservations = try await concurrently(64) { index in
                _ = try await FleetV1.AvailabilityService.Client(clients[index % 2]).createAvailabilityRecord(.init(
                    vehicleId: vehicle.id, period: openPeriod(Double(index % 9) + 1, 10.5 + Double(index % 5)),
                    status: .reserved, sourceType: .booking, sourceId: UUID().uuidString.lowercased()
                ), options: options)
            }
            #expect(reservations.successes == 1 && reservations.codes == ["VEHICLE_NOT_AVAILABLE": 63], "\(reservations.codes)")

            // Maintenance against reservations, half through each process.
            let mixed = try await concurrently(64) { index in
                let client = clients[index % 2]
                if index % 4 < 2 {
                    _ = try await FleetV1.FleetService.Client(client).scheduleMaintenance(.init(vehicleId: vehicle.id, period: period(30, 33), reason: "service"), options: options)
                } else {
                    _ = try await FleetV1.AvailabilityService.Client(client).createAvailabilityRecord(.init(
                        vehicleId: vehicle.id, period: openPeriod(32, 35), status: .reserved, sourceType: .booking, sourceId: UUID().uuidString.lowercased()
                    ), options: options)
                }
            }
            #expect(mixed.successes == 1 && mixed.codes == ["VEHICLE_NOT_AVAILABLE": 63], "\(mixed.codes)")

            // Blocks over an open-ended suspension, through both processes: none wins.
            _ = try await fleet.suspendVehicle(.init(vehicleId: vehicle.id, reason: .vendorRequest, period: openPeriod(60)), options: options)
            let blocks = try await concurrently(64) { index in
                _ = try await FleetV1.FleetService.Client(clients[index % 2]).placeBlock(.init(
                    vehicleId: vehicle.id, period: period(59 + Double(index), 61 + Double(index)), reason: "hold"
                ), options: options)
            }
            #expect(blocks.successes == 0 && blocks.codes == ["VEHICLE_NOT_AVAILABLE": 64], "\(blocks.codes)")

            let timeline = try await FleetV1.AvailabilityService.Client(clients[0]).getVehicleTimeline(
                .init(vehicleId: vehicle.id, period: period(0, 200), page: .init(pageSize: 100)), options: options
            )
            #expect(timeline.records.map(\.status) == [.reserved, .maintenance, .suspended] || timeline.records.map(\.status) == [.reserved, .reserved, .suspended])
            for client in clients { await client.close() }
            for server in servers { await server.stop() }
        }
    }

    @Test("roles: who may register, update, suspend and search (the permission table over TCP)")
    func roles() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let corporate = try await market.onboard(.corporate)
            let fleet = FleetV1.FleetService.Client(market.client)
            let staff = try await market.member(of: vendor, role: "VENDOR_STAFF")
            let manager = try await market.member(of: corporate, role: "FLEET_MANAGER")
            let employee = try await market.member(of: corporate, role: "EMPLOYEE")
            let vehicle = try await activeVehicle(market, fleet, vendor)
            let register = FleetV1.RegisterVehicleRequest(ownershipType: .vendorOwned, make: "Kia", model: "Seltos", year: 2023, licensePlate: "KA99ZZ0001")
            await expectCode(.permissionDenied) { _ = try await fleet.registerVehicle(register, options: staff.callOptions) }
            _ = try await fleet.updateVehicleDetails(.init(vehicleId: vehicle.id, model: .init(value: "Nexon EV")), options: staff.callOptions)
            await expectCode(.permissionDenied) {
                _ = try await fleet.suspendVehicle(.init(vehicleId: vehicle.id, reason: .vendorRequest, period: openPeriod(1)), options: staff.callOptions)
            }
            await expectCode(.permissionDenied) {
                _ = try await fleet.searchAvailableVehicles(.init(period: period(1, 8)), options: vendor.admin.callOptions)
            }
            let found = try await fleet.searchAvailableVehicles(.init(period: period(1, 8)), options: manager.callOptions)
            #expect(found.vehicles.map(\.id) == [vehicle.id])
            _ = try await fleet.getVehicle(.init(vehicleId: vehicle.id), options: employee.callOptions)
            await expectCode(.permissionDenied) { _ = try await fleet.searchAvailableVehicles(.init(period: period(1, 8)), options: employee.callOptions) }
            await expectCode(.permissionDenied) {
                _ = try await fleet.updateVehicleDetails(.init(vehicleId: vehicle.id, make: .init(value: "X")), options: employee.callOptions)
            }
            await expectCode(.unauthenticated) { _ = try await fleet.getVehicle(.init(vehicleId: vehicle.id)) }
            // A corporate registers into its own fleet, corporate-owned only; others never see it in search.
            let own = try await fleet.registerVehicle(.init(ownershipType: .corporateOwned, make: "Tata", model: "Punch", year: 2024, licensePlate: "CORP1"), options: corporate.admin.callOptions).vehicle!
            try await market.verifyVehicle(own.id, owner: manager)
            _ = try await fleet.activateVehicle(.init(vehicleId: own.id), options: manager.callOptions)
            let other = try await market.onboard(.corporate)
            let otherSees = try await fleet.searchAvailableVehicles(.init(period: period(1, 8)), options: other.admin.callOptions)
            #expect(otherSees.vehicles.map(\.id) == [vehicle.id], "another corporate's fleet stays private")
            let mine = try await fleet.searchAvailableVehicles(.init(period: period(1, 8)), options: manager.callOptions)
            #expect(Set(mine.vehicles.map(\.id)) == [vehicle.id, own.id])
        }
    }

    @Test("a suspended vendor's vehicles leave search at once; reinstated, they return")
    func organizationStatus() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let corporate = try await market.onboard(.corporate)
            let fleet = FleetV1.FleetService.Client(market.client)
            let vehicle = try await activeVehicle(market, fleet, vendor)
            let platform = try await market.platformAdmin()
            func visible() async throws -> Bool {
                try await fleet.searchAvailableVehicles(.init(period: period(1, 8)), options: corporate.admin.callOptions).vehicles.contains { $0.id == vehicle.id }
            }
            #expect(try await visible())
            _ = try await market.administration.suspendOrganization(.init(organizationId: vendor.id, notes: "audit"), options: platform.callOptions)
            #expect(try await !visible())
            _ = try await market.administration.reinstateOrganization(.init(organizationId: vendor.id), options: platform.callOptions)
            #expect(try await visible())
        }
    }

    @Test("moderation: an administrator's suspension and block are applied by Fleet in the same transaction, or not at all")
    func moderation() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let fleet = FleetV1.FleetService.Client(market.client)
            let vehicle = try await activeVehicle(market, fleet, vendor)
            let platform = try await market.platformAdmin()
            let admin = market.administration
            _ = try await admin.blockVehicle(.init(vehicleId: vehicle.id, period: period(1, 3), reason: "inspection"), options: platform.callOptions)
            await expectCode(.failedPrecondition, domainCode: "VEHICLE_NOT_AVAILABLE") {
                _ = try await admin.blockVehicle(.init(vehicleId: vehicle.id, period: period(2, 4), reason: "again"), options: platform.callOptions)
            }
            await expectCode(.notFound) {
                _ = try await admin.suspendVehicle(.init(vehicleId: UUID().uuidString.lowercased(), notes: "x"), options: platform.callOptions)
            }
            await expectCode(.aborted, domainCode: "STALE_VERSION") {
                _ = try await admin.suspendVehicle(.init(vehicleId: vehicle.id, notes: "x", expectedVersion: .init(value: 1)), options: platform.callOptions)
            }
            let suspended = try await admin.suspendVehicle(.init(vehicleId: vehicle.id, period: openPeriod(5), notes: "fraud report"), options: platform.callOptions)
            let after = try await fleet.getVehicle(.init(vehicleId: vehicle.id), options: vendor.admin.callOptions).vehicle!
            #expect(after.status == .suspended)
            let suspension = try await fleet.listSuspensions(.init(vehicleId: vehicle.id), options: vendor.admin.callOptions).suspensions.first!
            #expect(suspension.reason == .adminAction)
            await expectCode(.permissionDenied) { _ = try await fleet.liftSuspension(.init(suspensionId: suspension.id), options: vendor.admin.callOptions) }
            let log = try await admin.listModerationActions(.init(), options: platform.callOptions).actions
            #expect(log.count == 2 && log.first?.id == suspended.action!.id, "only the applied ones are logged, newest first")
            let events = try await market.pool.query("""
                SELECT event_type FROM karokar_events.outbox
                WHERE event_type IN ('moderation.vehicle_suspension_requested', 'vehicle.suspended') ORDER BY seq
                """).map { try $0.decode(String.self, "event_type") }
            #expect(events == ["moderation.vehicle_suspension_requested", "vehicle.suspended"])
        }
    }

    private func activeVehicle(_ market: TestMarketplace, _ fleet: FleetV1.FleetService.Client, _ owner: TestOrganization) async throws -> FleetV1.Vehicle {
        let registered = try await fleet.registerVehicle(.init(
            ownershipType: .vendorOwned, make: "Tata", model: "Nexon", year: 2024, licensePlate: "KA\(UUID().uuidString.prefix(6))"
        ), options: owner.admin.callOptions).vehicle!
        try await market.verifyVehicle(registered.id, owner: owner.admin)
        return try await fleet.activateVehicle(.init(vehicleId: registered.id), options: owner.admin.callOptions).vehicle!
    }
}
