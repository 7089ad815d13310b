import Foundation
@testable import AssignmentContext
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

@Suite("Assignment rules: the lifecycle on every pair")
struct AssignmentRulesTests {
    static let allowed: [AssignmentStatus: [AssignmentCommand: AssignmentStatus]] = [
        .pending: [.accept: .accepted, .reject: .rejected, .close: .closed],
        .accepted: [.activate: .active, .close: .closed],
        .active: [.complete: .completed, .close: .closed],
    ]

    static let pairs = AssignmentStatus.allCases.flatMap { status in AssignmentCommand.allCases.map { (status, $0) } }

    @Test("every (state, command) pair", arguments: pairs)
    func transition(status: AssignmentStatus, command: AssignmentCommand) {
        #expect(AssignmentStateMachine.next(from: status, command) == Self.allowed[status]?[command])
        if Self.allowed[status]?[command] == nil {
            #expect { try AssignmentStateMachine.checked(from: status, command) } throws: { error in
                (error as? DomainError)?.domainCode == "INVALID_ASSIGNMENT_TRANSITION"
            }
        }
    }
}

/// Assignments through the real server over TCP.
@Suite("Assignment over TCP: reassignment, corporate-owned vehicles, who sees what")
struct AssignmentFlowTests {
    struct World {
        let market: TestMarketplace
        let vendor: TestOrganization
        let corporate: TestOrganization
        let manager: TestSession
        let first: TestSession
        let second: TestSession

        var bookings: BookingV1.BookingService.Client { .init(market.client) }
        var assignments: AssignmentV1.AssignmentService.Client { .init(market.client) }
        var fleet: FleetV1.FleetService.Client { .init(market.client) }

        static func make(_ market: TestMarketplace) async throws -> World {
            let vendor = try await market.onboard(.vendor)
            let corporate = try await market.onboard(.corporate)
            return World(
                market: market, vendor: vendor, corporate: corporate, manager: try await market.member(of: corporate, role: "FLEET_MANAGER"),
                first: try await market.member(of: corporate, role: "EMPLOYEE"), second: try await market.member(of: corporate, role: "EMPLOYEE")
            )
        }

        func vehicle(of owner: TestOrganization) async throws -> String {
            let registered = try await fleet.registerVehicle(.init(
                ownershipType: owner.type == .vendor ? .vendorOwned : .corporateOwned, make: "Maruti", model: "Ciaz", year: 2022,
                licensePlate: "KA\(UUID().uuidString.prefix(8))"
            ), options: owner.admin.callOptions).vehicle!
            try await market.verifyVehicle(registered.id, owner: owner.admin)
            return try await fleet.activateVehicle(.init(vehicleId: registered.id), options: owner.admin.callOptions).vehicle!.id
        }

        func openRecords(_ source: String) async throws -> [String] {
            try await market.pool.query("""
                SELECT status FROM fleet.availability WHERE source_id = \(UUID(uuidString: source)!) AND released_at IS NULL
                """).map { try $0.decode(String.self, "status") }
        }
    }

    static func days(_ start: Double, _ end: Double?) -> CommonV1.OpenPeriod {
        let origin: Int64 = 1_814_400_000
        return CommonV1.OpenPeriod(
            start: .init(seconds: origin + Int64(start * 86_400)), end: end.map { .init(seconds: origin + Int64($0 * 86_400)) }
        )
    }

    @Test("the employee rejects; the corporate reassigns to another (booking untouched); the new one is accepted and the booking handed over")
    func reassignmentAfterRejection() async throws {
        try await TestMarketplace.run { market in
            let world = try await World.make(market)
            let vehicle = try await world.vehicle(of: world.vendor)
            let p = Self.days(1, 3)
            let draft = try await world.bookings.createBooking(.init(vehicleId: vehicle, period: .init(start: p.start, end: p.end)), options: world.manager.callOptions).booking!
            _ = try await world.bookings.submitBooking(.init(bookingId: draft.id), options: world.manager.callOptions)
            _ = try await world.bookings.approveBooking(.init(bookingId: draft.id), options: world.vendor.admin.callOptions)
            let assigned = try await world.bookings.assignBooking(.init(bookingId: draft.id, employeeId: world.first.userID), options: world.manager.callOptions)
            // A colleague does not see another employee's assignment.
            await expectCode(.notFound) {
                _ = try await world.assignments.acceptAssignment(.init(assignmentId: assigned.assignmentId), options: world.second.callOptions)
            }
            let rejected = try await world.assignments.rejectAssignment(
                .init(assignmentId: assigned.assignmentId, reason: .init(value: "on leave")), options: world.first.callOptions
            ).assignment!
            #expect(rejected.status == .rejected)
            let booking = try await world.bookings.getBooking(.init(bookingId: draft.id), options: world.manager.callOptions).booking!
            #expect(booking.status == .assigned && booking.version == assigned.booking!.version, "the booking is untouched")
            let reassigned = try await world.assignments.reassignAssignment(
                .init(assignmentId: assigned.assignmentId, employeeId: world.second.userID), options: world.manager.callOptions
            )
            #expect(reassigned.closedAssignment!.status == .rejected && reassigned.closedAssignment!.replacedByAssignmentId?.value == reassigned.assignment!.id)
            #expect(reassigned.assignment!.status == .pending && reassigned.assignment!.employeeId == world.second.userID)
            #expect(reassigned.assignment!.bookingId?.value == draft.id && reassigned.assignment!.replacesAssignmentId?.value == assigned.assignmentId)
            _ = try await world.assignments.acceptAssignment(.init(assignmentId: reassigned.assignment!.id), options: world.second.callOptions)
            let active = try await world.bookings.activateBooking(
                .init(bookingId: draft.id, evidence: .init(odometerKm: 10, fuelPercent: 90)), options: world.manager.callOptions
            ).booking!
            #expect(active.status == .active)
            let current = try await world.assignments.getAssignment(.init(assignmentId: reassigned.assignment!.id), options: world.second.callOptions).assignment!
            #expect(current.status == .active)
            let mine = try await world.assignments.listMyAssignments(.init(), options: world.first.callOptions).assignments
            #expect(mine.map(\.id) == [assigned.assignmentId], "the first employee sees only their own")
            let all = try await world.assignments.listAssignments(.init(), options: world.manager.callOptions).assignments
            #expect(all.count == 2)
            await expectCode(.failedPrecondition, domainCode: "BOOKING_MANAGED") {
                _ = try await world.assignments.completeAssignment(.init(assignmentId: current.id), options: world.manager.callOptions)
            }
        }
    }

    @Test("once its booking ended (cancelled, or completed), none of its assignments is reassignable: the live one and an earlier rejected one")
    func endedBookingsAssignments() async throws {
        try await TestMarketplace.run { market in
            let world = try await World.make(market)
            let vehicle = try await world.vehicle(of: world.vendor)
            func assigned(_ start: Double) async throws -> (booking: String, assignment: String) {
                let p = Self.days(start, start + 1)
                let draft = try await world.bookings.createBooking(.init(vehicleId: vehicle, period: .init(start: p.start, end: p.end)), options: world.manager.callOptions).booking!
                _ = try await world.bookings.submitBooking(.init(bookingId: draft.id), options: world.manager.callOptions)
                _ = try await world.bookings.approveBooking(.init(bookingId: draft.id), options: world.vendor.admin.callOptions)
                let assignment = try await world.bookings.assignBooking(.init(bookingId: draft.id, employeeId: world.first.userID), options: world.manager.callOptions).assignmentId
                return (draft.id, assignment)
            }
            func ended(_ assignment: String) async throws -> Bool {
                try await world.market.pool.query("SELECT booking_ended FROM assignment.assignments WHERE id = \(UUID(uuidString: assignment)!)")
                    .single().decode(Bool.self, "booking_ended")
            }
            func expectNotReassignable(_ assignment: String) async throws {
                await expectCode(.failedPrecondition, domainCode: "INVALID_ASSIGNMENT_TRANSITION") {
                    _ = try await world.assignments.reassignAssignment(.init(assignmentId: assignment, employeeId: world.second.userID), options: world.manager.callOptions)
                }
                #expect(try await ended(assignment))
            }

            // Cancelled with its only assignment REJECTED (not live, not replaced): marked ended too.
            let cancelled = try await assigned(1)
            _ = try await world.assignments.rejectAssignment(.init(assignmentId: cancelled.assignment, reason: .init(value: "away")), options: world.first.callOptions)
            #expect(try await ended(cancelled.assignment) == false)
            _ = try await world.bookings.cancelBooking(.init(bookingId: cancelled.booking), options: world.manager.callOptions)
            try await expectNotReassignable(cancelled.assignment)

            // Completed: the live (reassigned) one COMPLETED and ended in one save, the rejected one it replaced ended as well.
            let completed = try await assigned(4)
            _ = try await world.assignments.rejectAssignment(.init(assignmentId: completed.assignment, reason: .init(value: "away")), options: world.first.callOptions)
            let live = try await world.assignments.reassignAssignment(
                .init(assignmentId: completed.assignment, employeeId: world.second.userID), options: world.manager.callOptions
            ).assignment!
            _ = try await world.assignments.acceptAssignment(.init(assignmentId: live.id), options: world.second.callOptions)
            _ = try await world.bookings.activateBooking(.init(bookingId: completed.booking, evidence: .init(odometerKm: 10, fuelPercent: 90)), options: world.manager.callOptions)
            #expect(try await ended(live.id) == false)
            _ = try await world.bookings.completeBooking(.init(bookingId: completed.booking, evidence: .init(odometerKm: 20, fuelPercent: 80)), options: world.manager.callOptions)
            let done = try await world.assignments.getAssignment(.init(assignmentId: live.id), options: world.manager.callOptions).assignment!
            #expect(done.status == .completed)
            try await expectNotReassignable(live.id)
            try await expectNotReassignable(completed.assignment)
        }
    }

    @Test("a corporate-owned vehicle assigned directly holds it: an overlapping direct assignment gets VEHICLE_NOT_AVAILABLE; closing releases")
    func directAssignmentConflict() async throws {
        try await TestMarketplace.run { market in
            let world = try await World.make(market)
            let vehicle = try await world.vehicle(of: world.corporate)
            let first = try await world.assignments.createAssignment(
                .init(vehicleId: vehicle, employeeId: world.first.userID, period: Self.days(1, nil)), options: world.manager.callOptions
            ).assignment!
            #expect(first.status == .pending && first.bookingId == nil)
            #expect(try await world.openRecords(first.id) == ["ALLOCATED"])
            await expectCode(.failedPrecondition, domainCode: "VEHICLE_NOT_AVAILABLE") {
                _ = try await world.assignments.createAssignment(
                    .init(vehicleId: vehicle, employeeId: world.second.userID, period: Self.days(5, 6)), options: world.manager.callOptions
                )
            }
            #expect(try await world.market.pool.query("SELECT 1 FROM assignment.assignments").count == 1, "the refused one left nothing")
            _ = try await world.assignments.acceptAssignment(.init(assignmentId: first.id), options: world.first.callOptions)
            _ = try await world.assignments.activateAssignment(.init(assignmentId: first.id), options: world.manager.callOptions)
            let done = try await world.assignments.completeAssignment(.init(assignmentId: first.id), options: world.manager.callOptions).assignment!
            #expect(done.status == .completed)
            #expect(try await world.openRecords(first.id).isEmpty, "released on return")
            let next = try await world.assignments.createAssignment(
                .init(vehicleId: vehicle, employeeId: world.second.userID, period: Self.days(5, 6)), options: world.manager.callOptions
            ).assignment!
            let closed = try await world.assignments.closeAssignment(.init(assignmentId: next.id), options: world.manager.callOptions).assignment!
            #expect(closed.status == .closed && closed.closeReason == .corporateAction)
            #expect(try await world.openRecords(next.id).isEmpty)
            let vendorVehicle = try await world.vehicle(of: world.vendor)
            await expectCode(.notFound) {
                _ = try await world.assignments.createAssignment(
                    .init(vehicleId: vendorVehicle, employeeId: world.first.userID, period: Self.days(1, 2)), options: world.manager.callOptions
                )
            }
        }
    }

    @Test("another corporate's managers and employees: NOT_FOUND; an employee without assignment.manage: PERMISSION_DENIED")
    func tenancy() async throws {
        try await TestMarketplace.run { market in
            let world = try await World.make(market)
            let vehicle = try await world.vehicle(of: world.corporate)
            let assignment = try await world.assignments.createAssignment(
                .init(vehicleId: vehicle, employeeId: world.first.userID, period: Self.days(1, 2)), options: world.manager.callOptions
            ).assignment!
            let other = try await market.onboard(.corporate)
            let outsider = try await market.member(of: other, role: "FLEET_MANAGER")
            for session in [other.admin, outsider] {
                await expectCode(.notFound) { _ = try await world.assignments.getAssignment(.init(assignmentId: assignment.id), options: session.callOptions) }
                await expectCode(.notFound) { _ = try await world.assignments.closeAssignment(.init(assignmentId: assignment.id), options: session.callOptions) }
            }
            await expectCode(.notFound) { _ = try await world.assignments.getAssignment(.init(assignmentId: assignment.id), options: world.second.callOptions) }
            await expectCode(.permissionDenied) { _ = try await world.assignments.closeAssignment(.init(assignmentId: assignment.id), options: world.first.callOptions) }
            await expectCode(.permissionDenied) {
                _ = try await world.assignments.createAssignment(.init(vehicleId: vehicle, employeeId: world.first.userID, period: Self.days(3, 4)), options: world.first.callOptions)
            }
            let unchanged = try await world.assignments.getAssignment(.init(assignmentId: assignment.id), options: world.manager.callOptions).assignment!
            #expect(unchanged == assignment)
        }
    }
}
