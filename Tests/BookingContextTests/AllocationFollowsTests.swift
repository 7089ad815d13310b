import BookingContext
import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import Testing

/// What an employee's allocation counts follows the booking's assignee through reassignment
/// (Booking's in-transaction reaction to Assignment's `assignment.created` that replaces
/// another); overrides can be removed; the expiry sweep's batch is a setting.
@Suite("Booking: allocations follow reassignment, overrides are removed, the sweep's batch size")
struct AllocationFollowsTests {
    static func usage(_ world: BookingWorld, _ employee: TestSession) async throws -> BookingV1.AllocationUsage {
        try await world.allocations.getAllocationUsage(.init(employeeId: .init(value: employee.userID)), options: world.manager.callOptions).usage!
    }

    static func assignee(_ world: BookingWorld, _ booking: String) async throws -> (String?, String?) {
        let row = try await world.pool.query("""
            SELECT assignee_id::text AS e, assignment_id::text AS a FROM booking.bookings WHERE id = \(UUID(uuidString: booking)!)
            """).single()
        return (try row.decode(String?.self, "e"), try row.decode(String?.self, "a"))
    }

    @Test("reassignment after a rejection moves the allocation count from the old employee to the new one; the booking is untouched")
    func reassignmentMovesTheCount() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            let second = try await market.member(of: world.corporate, role: "EMPLOYEE")
            let (booking, assignment) = try await world.assigned(period(1, 3))
            #expect(try await Self.usage(world, world.employee).activeBookings == 1)
            #expect(try await Self.usage(world, second).activeBookings == 0)
            _ = try await world.assignments.rejectAssignment(.init(assignmentId: assignment), options: world.employee.callOptions)
            let reassigned = try await world.assignments.reassignAssignment(
                .init(assignmentId: assignment, employeeId: second.userID), options: world.manager.callOptions
            ).assignment!
            #expect(try await Self.usage(world, world.employee).activeBookings == 0, "no longer the old employee's")
            #expect(try await Self.usage(world, second).activeBookings == 1, "now the new employee's")
            let (assignee, assignmentID) = try await Self.assignee(world, booking.id)
            #expect(assignee == second.userID && assignmentID == reassigned.id)
            let after = try await world.bookings.getBooking(.init(bookingId: booking.id), options: world.manager.callOptions).booking!
            #expect(after == booking, "status, version and updated_at as they were")
            #expect(try await world.events(booking.id) == ["booking.created", "booking.requested", "booking.approved", "booking.assigned"])
            // The new assignee accepts and the booking goes on as usual.
            _ = try await world.assignments.acceptAssignment(.init(assignmentId: reassigned.id), options: second.callOptions)
            let active = try await world.bookings.activateBooking(.init(bookingId: booking.id, evidence: reading(5, 50)), options: world.manager.callOptions).booking!
            #expect(active.status == .active)
            _ = try await world.bookings.completeBooking(.init(bookingId: booking.id, evidence: reading(50, 40)), options: world.manager.callOptions)
            #expect(try await Self.usage(world, second).activeBookings == 0, "a completed booking counts for no one")
        }
    }

    @Test("a reassigned self-booking stops counting for its requester, who may book again and no longer reads or cancels it; the new employee is not refused for their allocation")
    func reassignedSelfBooking() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            let second = try await market.member(of: world.corporate, role: "EMPLOYEE")
            _ = try await world.allocations.setAllocation(.init(maxActiveBookings: 1), options: world.manager.callOptions)
            let own = try await world.requested(period(1, 2), as: world.employee)
            let approved = try await world.approve(own.id)
            #expect(approved.status == .assigned)
            let held = try await Self.assignee(world, own.id)
            #expect(held.0 == world.employee.userID)
            let next = try await world.draft(period(4, 5), as: world.employee)
            await expectCode(.failedPrecondition, domainCode: "ALLOCATION_EXCEEDED") {
                _ = try await world.bookings.submitBooking(.init(bookingId: next.id), options: world.employee.callOptions)
            }
            // The second employee already holds their one booking of their own: the manager's
            // reassignment is still taken (allocations limit self-booking, not the corporate).
            _ = try await world.approve(try await world.requested(period(7, 8), as: second).id)
            #expect(try await Self.usage(world, second).activeBookings == 1)
            _ = try await world.assignments.reassignAssignment(
                .init(assignmentId: held.1!, employeeId: second.userID), options: world.manager.callOptions
            )
            #expect(try await Self.usage(world, world.employee).activeBookings == 0)
            #expect(try await Self.usage(world, second).activeBookings == 2)
            // No longer the requester's own: they neither read, list nor cancel it (decided).
            await expectCode(.notFound, domainCode: "BOOKING_NOT_FOUND") {
                _ = try await world.bookings.getBooking(.init(bookingId: own.id), options: world.employee.callOptions)
            }
            await expectCode(.notFound, domainCode: "BOOKING_NOT_FOUND") {
                _ = try await world.bookings.cancelBooking(.init(bookingId: own.id, reason: .init(value: "mine?")), options: world.employee.callOptions)
            }
            let listed = try await world.bookings.listCorporateBookings(.init(), options: world.employee.callOptions).bookings.map(\.id)
            #expect(!listed.contains(own.id) && listed.contains(next.id), "\(listed)")
            #expect(try await world.bookings.getBooking(.init(bookingId: own.id), options: world.manager.callOptions).booking?.status == .assigned)
            let submitted = try await world.bookings.submitBooking(.init(bookingId: next.id), options: world.employee.callOptions).booking!
            #expect(submitted.status == .requested, "the requester's allocation is free again")
            let third = try await world.draft(period(10, 11), as: second)
            await expectCode(.failedPrecondition, domainCode: "ALLOCATION_EXCEEDED") {
                _ = try await world.bookings.submitBooking(.init(bookingId: third.id), options: second.callOptions)
            }
        }
    }

    @Test("a reassignment racing the booking's cancellation: one order or the other, never a live assignment of a cancelled booking nor an assignee out of step")
    func reassignmentRacingCancellation() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            let second = try await market.member(of: world.corporate, role: "EMPLOYEE")
            var orders: [String] = []
            for round in 0..<6 {
                let (booking, assignment) = try await world.assigned(period(Double(round * 3) + 1, Double(round * 3) + 2))
                _ = try await world.assignments.rejectAssignment(.init(assignmentId: assignment), options: world.employee.callOptions)
                async let reassigned: Result<String, any Error> = {
                    do {
                        let response = try await world.assignments.reassignAssignment(
                            .init(assignmentId: assignment, employeeId: second.userID), options: world.manager.callOptions
                        )
                        return .success(response.assignment!.id)
                    } catch { return .failure(error) }
                }()
                async let cancelled = world.bookings.cancelBooking(.init(bookingId: booking.id), options: world.corporate.admin.callOptions)
                let (reassignment, cancellation) = (await reassigned, try await cancelled)
                #expect(cancellation.booking!.status == .cancelled)
                let id = UUID(uuidString: booking.id)!
                #expect(try await world.count("""
                    SELECT count(*)::int FROM assignment.assignments WHERE booking_id = \(id) AND status IN ('PENDING', 'ACCEPTED', 'ACTIVE')
                    """) == 0, "a cancelled booking keeps no live assignment")
                let newest = try await world.pool.query("""
                    SELECT id::text AS a, employee_id::text AS e FROM assignment.assignments WHERE booking_id = \(id) ORDER BY created_at DESC LIMIT 1
                    """).single()
                let (assignee, assignmentID) = try await Self.assignee(world, booking.id)
                let (newestID, newestEmployee) = (try newest.decode(String.self, "a"), try newest.decode(String.self, "e"))
                #expect(assignmentID == newestID && assignee == newestEmployee, "the booking names its newest assignment and that assignment's employee")
                switch reassignment {
                case .success(let created):
                    #expect(assignmentID == created)
                    orders.append("reassigned, then cancelled")
                case .failure(let error):
                    #expect((error as? RPCError)?.code == .failedPrecondition, "\(error)")
                    #expect(assignee == world.employee.userID)
                    orders.append("cancelled, reassignment refused")
                }
            }
            print("reassignment racing cancellation: \(orders)")
        }
    }

    @Test("RemoveEmployeeAllocation: the employee falls back to the corporate's default; idempotent; one allocation.removed")
    func removeOverride() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            let employee = BookingV1.RemoveEmployeeAllocationRequest(employeeId: world.employee.userID)
            _ = try await world.allocations.setAllocation(.init(maxActiveBookings: 1, maxDaysPerMonth: 5), options: world.manager.callOptions)
            let override = try await world.allocations.setAllocation(
                .init(employeeId: .init(value: world.employee.userID), maxActiveBookings: 3), options: world.manager.callOptions
            ).allocation!
            #expect(try await Self.usage(world, world.employee).allocation?.maxActiveBookings == 3)
            await expectCode(.aborted, domainCode: "STALE_VERSION") {
                _ = try await world.allocations.removeEmployeeAllocation(
                    .init(employeeId: world.employee.userID, expectedVersion: .init(value: override.version + 1)), options: world.manager.callOptions
                )
            }
            let removed = try await world.allocations.removeEmployeeAllocation(
                .init(employeeId: world.employee.userID, expectedVersion: .init(value: override.version)), options: world.manager.callOptions
            )
            #expect(removed.removed && removed.allocation?.employeeId == nil && removed.allocation?.maxActiveBookings == 1)
            let usage = try await Self.usage(world, world.employee)
            #expect(usage.allocation?.employeeId == nil && usage.allocation?.maxActiveBookings == 1 && usage.allocation?.maxDaysPerMonth == 5)
            let mine = try await world.allocations.getAllocationUsage(.init(), options: world.employee.callOptions).usage!
            #expect(mine.remainingActiveBookings == 1, "the employee reads the default as theirs")
            let again = try await world.allocations.removeEmployeeAllocation(employee, options: world.manager.callOptions)
            #expect(!again.removed && again.allocation == removed.allocation, "idempotent: nothing to remove")
            let listed = try await world.allocations.listAllocations(.init(), options: world.manager.callOptions).allocations
            #expect(listed.map(\.employeeId) == [nil], "only the default is left")
            #expect(try await world.count("SELECT count(*)::int FROM karokar_events.outbox WHERE event_type = 'allocation.removed'") == 1)
            #expect(try await world.count("SELECT count(*)::int FROM karokar_events.outbox WHERE event_type = 'allocation.set'") == 2)
            // The employee is allowed the default's one booking again.
            let own = try await world.requested(period(1, 2), as: world.employee)
            #expect(own.status == .requested)
        }
    }

    @Test("RemoveEmployeeAllocation by another corporate: NOT_FOUND; by an employee: PERMISSION_DENIED; nothing changed")
    func removeOverrideAccess() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            _ = try await world.allocations.setAllocation(
                .init(employeeId: .init(value: world.employee.userID), maxActiveBookings: 2), options: world.manager.callOptions
            )
            let other = try await market.onboard(.corporate)
            let otherManager = try await market.member(of: other, role: "FLEET_MANAGER")
            let request = BookingV1.RemoveEmployeeAllocationRequest(employeeId: world.employee.userID)
            for session in [other.admin, otherManager] {
                await expectCode(.notFound) { _ = try await world.allocations.removeEmployeeAllocation(request, options: session.callOptions) }
            }
            await expectCode(.notFound) {
                _ = try await world.allocations.removeEmployeeAllocation(.init(employeeId: UUID().uuidString.lowercased()), options: world.manager.callOptions)
            }
            await expectCode(.permissionDenied) { _ = try await world.allocations.removeEmployeeAllocation(request, options: world.employee.callOptions) }
            await expectCode(.permissionDenied) { _ = try await world.allocations.removeEmployeeAllocation(request, options: world.vendor.admin.callOptions) }
            await expectCode(.invalidArgument) {
                _ = try await world.allocations.removeEmployeeAllocation(.init(employeeId: "not-a-uuid"), options: world.manager.callOptions)
            }
            #expect(try await Self.usage(world, world.employee).allocation?.maxActiveBookings == 2, "the override is still there")
            #expect(try await world.count("SELECT count(*)::int FROM karokar_events.outbox WHERE event_type = 'allocation.removed'") == 0)
        }
    }

    static func resolve(_ flags: [String: String]) throws -> ServerSettings {
        try ServerSettings.resolve(flags: flags, environment: [:], configFile: nil) { _ in [] }
    }

    @Test("booking-expiry-batch-size is a setting: listed with the server's default, bounded, and in effect")
    func batchSizeSetting() throws {
        let spec = try #require(ServerSettings.specs.first { $0.name == "booking-expiry-batch-size" })
        #expect(spec.environmentVariable == "KAROKAR_BOOKING_EXPIRY_BATCH_SIZE")
        #expect(try Self.resolve([spec.name: spec.defaultValue]).booking.expiryBatchSize == BookingOptions().expiryBatchSize)
        #expect(try Self.resolve([spec.name: "7"]).booking.expiryBatchSize == 7)
        for bad in ["0", "10001", "-1", "many"] {
            #expect { try Self.resolve([spec.name: bad]) } throws: { "\($0)".contains("--booking-expiry-batch-size") }
        }
    }

    @Test("the sweep cancels due requests in batches of booking-expiry-batch-size, one transaction each")
    func sweepInBatches() async throws {
        let settings = try Self.resolve(["booking-expiry-batch-size": "3", "booking-expiry-sweep-interval-s": "0"])
        try await TestMarketplace.run({ server in
            server.booking = settings.booking
            server.booking.requestTimeToLive = .seconds(1)
        }) { market in
            let world = try await BookingWorld.make(market)
            var due: [UUID] = []
            for index in 0..<7 {
                due.append(UUID(uuidString: try await world.requested(period(Double(index) + 1, Double(index) + 2)).id)!)
            }
            try await Task.sleep(for: .seconds(2))
            let platform = try await market.platformAdmin()
            let expired = try await world.bookings.expireBookingRequests(.init(), options: platform.callOptions).bookingIds
            #expect(Set(expired) == Set(due.map(\.lowercasedString)))
            // Rows one transaction wrote share their xmin: 3 + 3 + 1.
            let batches = try await world.pool.query("""
                SELECT count(*)::int AS n FROM booking.bookings WHERE id = ANY((\(due.map(\.lowercasedString))::text[])::uuid[]) AND status = 'CANCELLED' GROUP BY xmin::text ORDER BY 1 DESC
                """).map { try $0.decode(Int.self, "n") }
            #expect(batches == [3, 3, 1])
        }
    }
}
