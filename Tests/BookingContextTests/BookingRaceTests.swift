import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// The invariants under concurrency, across two `karokar-server` processes on one database.
@Suite("Booking races: two server processes, one database")
struct BookingRaceTests {
    @Test("64 corporates request one vehicle for overlapping periods; the vendor approves all 64 at once through two processes: exactly one wins")
    func sixtyFourApprovals() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            var requests: [String] = []
            for index in 0..<64 {
                let corporate = try await market.onboard(.corporate)
                let booking = try await world.bookings.createBooking(
                    .init(vehicleId: world.vehicle.id, period: period(Double(index % 9) + 1, 10.5 + Double(index % 5))),
                    options: corporate.admin.callOptions
                ).booking!
                _ = try await world.bookings.submitBooking(.init(bookingId: booking.id), options: corporate.admin.callOptions)
                requests.append(booking.id)
            }
            let servers = [
                try await ServerProcess.start(databaseURL: market.pool.configuration.connectionString),
                try await ServerProcess.start(databaseURL: market.pool.configuration.connectionString),
            ]
            let clients = servers.map { $0.client() }
            let options = world.vendor.admin.callOptions
            let ids = requests
            let outcomes = await concurrently(64) { index in
                _ = try await BookingV1.BookingService.Client(clients[index % 2]).approveBooking(.init(bookingId: ids[index]), options: options)
            }
            #expect(outcomes.successes == 1 && outcomes.codes == ["VEHICLE_NOT_AVAILABLE": 63], "\(outcomes.codes)")
            #expect(try await world.count("SELECT count(*)::int FROM booking.bookings WHERE status = 'APPROVED'") == 1)
            #expect(try await world.count("SELECT count(*)::int FROM booking.bookings WHERE status = 'REQUESTED'") == 63)
            #expect(try await world.count("SELECT count(*)::int FROM fleet.availability WHERE source_type = 'BOOKING'") == 1)
            #expect(try await world.count("SELECT count(*)::int FROM karokar_events.outbox WHERE event_type = 'booking.approved'") == 1)
            for client in clients { await client.close() }
            for server in servers { await server.stop() }
        }
    }

    @Test("approval when Fleet's reservation fails (the vehicle was suspended a moment earlier): still REQUESTED, no event, no record")
    func vetoedApproval() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            let booking = try await world.requested(period(1, 3))
            _ = try await FleetV1.FleetService.Client(market.client).suspendVehicle(
                .init(vehicleId: world.vehicle.id, reason: .vendorRequest, period: .init(start: period(0, 1).start)), options: world.vendor.admin.callOptions
            )
            await expectCode(.failedPrecondition, domainCode: "VEHICLE_NOT_AVAILABLE") { _ = try await world.approve(booking.id) }
            let after = try await world.bookings.getBooking(.init(bookingId: booking.id), options: world.vendor.admin.callOptions).booking!
            #expect(after.status == .requested && after.version == booking.version)
            #expect(try await world.events(booking.id) == ["booking.created", "booking.requested"])
            #expect(try await world.count("SELECT count(*)::int FROM fleet.availability WHERE source_type = 'BOOKING'") == 0)
        }
    }

    @Test("an employee allowed 2 bookings submits 10 at once through two processes: exactly 2 accepted, 8 ALLOCATION_EXCEEDED; approval assigns them to the employee")
    func allocationRace() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            _ = try await world.allocations.setAllocation(
                .init(employeeId: .init(value: world.employee.userID), maxActiveBookings: 2), options: world.manager.callOptions
            )
            var drafts: [String] = []
            for index in 0..<10 {
                drafts.append(try await world.draft(period(Double(index * 3) + 1, Double(index * 3) + 2), as: world.employee).id)
            }
            let servers = [
                try await ServerProcess.start(databaseURL: market.pool.configuration.connectionString),
                try await ServerProcess.start(databaseURL: market.pool.configuration.connectionString),
            ]
            let clients = servers.map { $0.client() }
            let options = world.employee.callOptions
            let ids = drafts
            let outcomes = await concurrently(10) { index in
                _ = try await BookingV1.BookingService.Client(clients[index % 2]).submitBooking(.init(bookingId: ids[index]), options: options)
            }
            #expect(outcomes.successes == 2 && outcomes.codes == ["ALLOCATION_EXCEEDED": 8], "\(outcomes.codes)")
            let requested = try await world.bookings.listCorporateBookings(.init(statuses: [.requested]), options: world.employee.callOptions).bookings
            #expect(requested.count == 2 && requested.allSatisfy { $0.selfBooking && $0.requestedBy == world.employee.userID })
            for booking in requested {
                let approved = try await world.approve(booking.id)
                #expect(approved.status == .assigned, "assigned to the requester in the approval's transaction")
                #expect(try await world.events(booking.id).suffix(2) == ["booking.approved", "booking.assigned"])
            }
            let mine = try await world.assignments.listMyAssignments(.init(), options: world.employee.callOptions).assignments
            #expect(mine.count == 2 && mine.allSatisfy { $0.status == .accepted && $0.employeeId == world.employee.userID })
            let usage = try await world.allocations.getAllocationUsage(.init(), options: world.employee.callOptions).usage!
            #expect(usage.activeBookings == 2 && usage.remainingActiveBookings == 0)
            for client in clients { await client.close() }
            for server in servers { await server.stop() }
        }
    }

    @Test("the expiry sweep run by two processes at once cancels each due request once, with reason EXPIRED")
    func expirySweep() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            // Requests hold nothing, so all 40 may ask for the same hour; it starts in a minute.
            let hour = periodStarting(inSeconds: 60)
            var due: [String] = []
            for _ in 0..<40 {
                due.append(try await world.requested(hour).id)
            }
            let later = try await world.requested(period(100, 101))
            let wait = hour.start!.seconds + 1 - Int64(Date().timeIntervalSince1970)
            if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
            let servers = [
                try await ServerProcess.start(databaseURL: market.pool.configuration.connectionString),
                try await ServerProcess.start(databaseURL: market.pool.configuration.connectionString),
            ]
            let clients = servers.map { $0.client() }
            let platform = try await market.platformAdmin()
            let runs = try await withThrowingTaskGroup(of: [String].self) { group in
                for client in clients {
                    group.addTask {
                        try await BookingV1.BookingService.Client(client).expireBookingRequests(.init(), options: platform.callOptions).bookingIds
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let expired = runs.flatMap { $0 }
            #expect(expired.count == 40 && Set(expired) == Set(due), "each once, between the two runs: \(runs.map(\.count))")
            #expect(try await world.count("""
                SELECT count(*)::int FROM karokar_events.outbox WHERE event_type = 'booking.cancelled'
                """) == 40)
            for id in due.prefix(3) {
                let cancelled = try await world.bookings.getBooking(.init(bookingId: id), options: world.corporate.admin.callOptions).booking!
                #expect(cancelled.status == .cancelled && cancelled.cancellationReason?.value == "EXPIRED" && cancelled.cancelledBy?.value == "system")
            }
            let untouched = try await world.bookings.getBooking(.init(bookingId: later.id), options: world.corporate.admin.callOptions).booking!
            #expect(untouched.status == .requested)
            for client in clients { await client.close() }
            for server in servers { await server.stop() }
        }
    }
}

/// A server killed (SIGKILL) while an approval is in flight: whatever it had done, a retry with
/// the same idempotency key, on another process, ends with the booking approved once.
@Suite("Booking: kill -9 during an approval")
struct BookingCrashTests {
    @Test("kill -9 as the approval commits: the retry with the same key returns the same booking, and one reservation exists")
    func killedDuringApproval() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            let url = market.pool.configuration.connectionString
            var outcomes: [String] = []
            for round in 0..<5 {
                let booking = try await world.requested(period(Double(round * 4) + 1, Double(round * 4) + 3))
                let doomed = try await ServerProcess.start(databaseURL: url)
                let client = doomed.client()
                let key = world.vendor.admin.options(idempotencyKey: "approve-\(booking.id)")
                let call = Task { try await BookingV1.BookingService.Client(client).approveBooking(.init(bookingId: booking.id), options: key).booking! }
                // Kill the moment the approval is visible in the database: after its commit, and
                // (most rounds) before its reply reached the client.
                let id = UUID(uuidString: booking.id)!
                while try await world.count("SELECT count(*)::int FROM booking.bookings WHERE id = \(id) AND status = 'APPROVED'") == 0 {
                    try await Task.sleep(for: .milliseconds(1))
                }
                await doomed.killNow()
                outcomes.append((try? await call.value) == nil ? "reply lost" : "reply arrived")
                await client.close()
                let survivor = try await ServerProcess.start(databaseURL: url)
                let retryClient = survivor.client()
                let retried = try await BookingV1.BookingService.Client(retryClient).approveBooking(.init(bookingId: booking.id), options: key).booking!
                #expect(retried.status == .approved && retried.version == booking.version + 1)
                #expect(try await world.openRecords(booking.id) == ["RESERVED"], "exactly one reservation")
                #expect(try await world.events(booking.id).filter { $0 == "booking.approved" }.count == 1)
                await retryClient.close()
                await survivor.stop()
            }
            #expect(outcomes.count == 5)
            print("kill -9 during approval: \(outcomes)")
        }
    }
}
