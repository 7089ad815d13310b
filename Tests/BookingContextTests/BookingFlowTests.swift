import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// Every DOMAIN.md transition through the RPCs, with its event, the availability record and the
/// assignment it moves; the forbidden ones refused without a change.
@Suite("Booking over TCP: the life of a booking, event by event")
struct BookingFlowTests {
    @Test("create -> submit -> approve -> assign -> accept -> activate -> complete: one event per transition, the record follows")
    func wholeLife() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            let draft = try await world.draft(period(1, 4))
            #expect(draft.status == .draft && draft.vendorOrganizationId == world.vendor.id && draft.corporateOrganizationId == world.corporate.id)
            #expect(try await world.openRecords(draft.id).isEmpty, "a draft holds nothing")
            let requested = try await world.bookings.submitBooking(.init(bookingId: draft.id), options: world.corporate.admin.callOptions).booking!
            #expect(requested.status == .requested && requested.expiresAt != nil)
            #expect(try await world.openRecords(draft.id).isEmpty, "a request holds nothing")
            let approved = try await world.approve(draft.id)
            #expect(approved.status == .approved && approved.decidedBy?.value == world.vendor.admin.userID)
            #expect(try await world.openRecords(draft.id) == ["RESERVED"])
            let assigned = try await world.bookings.assignBooking(
                .init(bookingId: draft.id, employeeId: world.employee.userID), options: world.manager.callOptions
            )
            #expect(assigned.booking!.status == .assigned)
            #expect(try await world.openRecords(draft.id) == ["ALLOCATED"])
            let assignment = try await world.assignments.getAssignment(.init(assignmentId: assigned.assignmentId), options: world.employee.callOptions).assignment!
            #expect(assignment.status == .pending && assignment.bookingId?.value == draft.id && assignment.employeeId == world.employee.userID)
            await expectCode(.failedPrecondition, domainCode: "ASSIGNMENT_NOT_ACCEPTED") {
                _ = try await world.bookings.activateBooking(.init(bookingId: draft.id, evidence: reading(1000, 80)), options: world.manager.callOptions)
            }
            _ = try await world.assignments.acceptAssignment(.init(assignmentId: assigned.assignmentId), options: world.employee.callOptions)
            let active = try await world.bookings.activateBooking(
                .init(bookingId: draft.id, evidence: reading(1000, 80, "clean")), options: world.manager.callOptions
            ).booking!
            #expect(active.status == .active && active.handoverEvidence?.odometerKm == 1000 && active.handoverEvidence?.conditionNotes?.value == "clean")
            await expectCode(.failedPrecondition, domainCode: "ODOMETER_BELOW_HANDOVER") {
                _ = try await world.bookings.completeBooking(.init(bookingId: draft.id, evidence: reading(999, 10)), options: world.manager.callOptions)
            }
            let completed = try await world.bookings.completeBooking(
                .init(bookingId: draft.id, evidence: reading(1350, 40)), options: world.manager.callOptions
            ).booking!
            #expect(completed.status == .completed && completed.returnEvidence?.odometerKm == 1350 && completed.version == 6)
            #expect(try await world.openRecords(draft.id).isEmpty, "released")
            let final = try await world.assignments.getAssignment(.init(assignmentId: assigned.assignmentId), options: world.manager.callOptions).assignment!
            #expect(final.status == .completed)
            #expect(try await world.events(draft.id) == [
                "booking.created", "booking.requested", "booking.approved", "booking.assigned", "booking.activated", "booking.completed",
            ])
            let fetched = try await world.bookings.getBooking(.init(bookingId: draft.id), options: world.vendor.admin.callOptions).booking!
            #expect(fetched == completed, "GetBooking returns the evidence too")
        }
    }

    @Test("reject, cancel from REQUESTED, APPROVED and ASSIGNED (record released, assignment closed), terminate after an accident")
    func endings() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            let rejected = try await world.requested(period(1, 2))
            let refused = try await world.bookings.rejectBooking(.init(bookingId: rejected.id, reason: "in service"), options: world.vendor.admin.callOptions)
            #expect(refused.booking!.status == .rejected && refused.booking!.rejectionReason?.value == "in service")

            let cancelledRequest = try await world.requested(period(3, 4))
            let approved = try await world.approve(try await world.requested(period(5, 6)).id)
            let (assigned, assignment) = try await world.assigned(period(7, 8))
            for booking in [cancelledRequest.id, approved.id, assigned.id] {
                let cancelled = try await world.bookings.cancelBooking(
                    .init(bookingId: booking, reason: .init(value: "plans changed")), options: world.manager.callOptions
                ).booking!
                #expect(cancelled.status == .cancelled && cancelled.cancellationReason?.value == "plans changed")
                #expect(try await world.openRecords(booking).isEmpty)
                #expect(try await world.events(booking).last == "booking.cancelled")
            }
            let closed = try await world.assignments.getAssignment(.init(assignmentId: assignment), options: world.manager.callOptions).assignment!
            #expect(closed.status == .closed && closed.closeReason == .bookingCancelled)

            let active = try await world.active(period(10, 20))
            let terminated = try await world.bookings.terminateBooking(
                .init(bookingId: active.id, reason: .accident, notes: .init(value: "front bumper")), options: world.manager.callOptions
            ).booking!
            #expect(terminated.status == .terminated && terminated.termination?.reason == .accident && terminated.termination?.notes?.value == "front bumper")
            #expect(try await world.openRecords(active.id).isEmpty)
            #expect(try await world.count("SELECT count(*)::int FROM fleet.maintenance WHERE booking_id = \(UUID(uuidString: active.id)!)") == 1)
            #expect(try await world.events(active.id).last == "booking.terminated")
        }
    }

    @Test("every forbidden transition through the RPCs: FAILED_PRECONDITION / INVALID_BOOKING_TRANSITION, the version unchanged")
    func forbidden() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            var samples: [BookingV1.BookingStatus: String] = [:]
            samples[.draft] = try await world.draft(period(1, 2)).id
            samples[.requested] = try await world.requested(period(3, 4)).id
            samples[.approved] = try await world.approve(try await world.requested(period(5, 6)).id).id
            samples[.assigned] = try await world.assigned(period(7, 8)).0.id
            samples[.active] = try await world.active(period(9, 10)).id
            let rejected = try await world.requested(period(11, 12))
            samples[.rejected] = try await world.bookings.rejectBooking(.init(bookingId: rejected.id, reason: "no"), options: world.vendor.admin.callOptions).booking!.id
            samples[.cancelled] = try await world.bookings.cancelBooking(.init(bookingId: try await world.requested(period(13, 14)).id), options: world.manager.callOptions).booking!.id
            let completed = try await world.active(period(15, 16))
            samples[.completed] = try await world.bookings.completeBooking(.init(bookingId: completed.id, evidence: reading(1100, 5)), options: world.manager.callOptions).booking!.id
            let terminated = try await world.active(period(17, 18))
            samples[.terminated] = try await world.bookings.terminateBooking(.init(bookingId: terminated.id, reason: .other), options: world.manager.callOptions).booking!.id

            let allowed: [BookingV1.BookingStatus: Set<String>] = [
                .draft: ["submit"], .requested: ["approve", "reject", "cancel"], .approved: ["assign", "cancel"],
                .assigned: ["activate", "cancel"], .active: ["complete", "terminate"],
            ]
            let b = world.bookings
            let (corp, vend, mgr) = (world.corporate.admin.callOptions, world.vendor.admin.callOptions, world.manager.callOptions)
            let verbs: [(String, @Sendable (String) async throws -> Void)] = [
                ("submit", { _ = try await b.submitBooking(.init(bookingId: $0), options: corp) }),
                ("approve", { _ = try await b.approveBooking(.init(bookingId: $0), options: vend) }),
                ("reject", { _ = try await b.rejectBooking(.init(bookingId: $0, reason: "no"), options: vend) }),
                ("assign", { _ = try await b.assignBooking(.init(bookingId: $0, employeeId: world.employee.userID), options: mgr) }),
                ("activate", { _ = try await b.activateBooking(.init(bookingId: $0, evidence: reading(2000, 50)), options: mgr) }),
                ("complete", { _ = try await b.completeBooking(.init(bookingId: $0, evidence: reading(3000, 50)), options: mgr) }),
                ("terminate", { _ = try await b.terminateBooking(.init(bookingId: $0, reason: .other), options: mgr) }),
                ("cancel", { _ = try await b.cancelBooking(.init(bookingId: $0), options: mgr) }),
            ]
            for (status, id) in samples {
                let before = try await b.getBooking(.init(bookingId: id), options: corp).booking!
                #expect(before.status == status)
                for (name, verb) in verbs where !(allowed[status] ?? []).contains(name) {
                    if status == .draft, name == "approve" || name == "reject" {
                        // A vendor does not see its corporates' drafts.
                        await expectCode(.notFound) { try await verb(id) }
                    } else {
                        await expectCode(.failedPrecondition, domainCode: "INVALID_BOOKING_TRANSITION") { try await verb(id) }
                    }
                }
                let after = try await b.getBooking(.init(bookingId: id), options: corp).booking!
                #expect(after == before, "\(status): nothing changed")
            }
        }
    }

    @Test("STALE_VERSION on a stale expected version; an idempotency key replays the first result and changes nothing")
    func versionsAndIdempotency() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            let draft = try await world.draft(period(1, 2))
            await expectCode(.aborted, domainCode: "STALE_VERSION") {
                _ = try await world.bookings.submitBooking(.init(bookingId: draft.id, expectedVersion: .init(value: 7)), options: world.corporate.admin.callOptions)
            }
            let submitted = try await world.bookings.submitBooking(.init(bookingId: draft.id, expectedVersion: .init(value: 1)), options: world.corporate.admin.callOptions).booking!
            let key = world.vendor.admin.options(idempotencyKey: "approve-\(draft.id)")
            let first = try await world.bookings.approveBooking(.init(bookingId: submitted.id, expectedVersion: .init(value: 2)), options: key).booking!
            let again = try await world.bookings.approveBooking(.init(bookingId: submitted.id, expectedVersion: .init(value: 2)), options: key).booking!
            #expect(first == again && first.version == 3)
            #expect(try await world.openRecords(draft.id) == ["RESERVED"], "one reservation")
            #expect(try await world.events(draft.id).filter { $0 == "booking.approved" }.count == 1)
        }
    }

    @Test("the platform dashboard counts bookings by status (Administration's read model, fed after commit)")
    func dashboard() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            _ = try await world.draft(period(1, 2))
            _ = try await world.requested(period(3, 4))
            _ = try await world.approve(try await world.requested(period(5, 6)).id)
            let platform = try await market.platformAdmin()
            var counts: [AdministrationV1.BookingStatus: Int64] = [:]
            for _ in 0..<100 {
                let dashboard = try await market.administration.getDashboardCounts(.init(), options: platform.callOptions).counts!
                counts = Dictionary(uniqueKeysWithValues: dashboard.bookings.map { ($0.status, $0.count) })
                if counts == [.draft: 1, .requested: 1, .approved: 1] { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(counts == [.draft: 1, .requested: 1, .approved: 1])
        }
    }

    @Test("Administration's TerminateBooking ends an ACTIVE booking with ADMIN_ACTION in the same transaction; only administrators choose ADMIN_ACTION")
    func moderation() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            let active = try await world.active(period(1, 5))
            await expectCode(.permissionDenied) {
                _ = try await world.bookings.terminateBooking(.init(bookingId: active.id, reason: .adminAction), options: world.manager.callOptions)
            }
            let platform = try await market.platformAdmin()
            await expectCode(.aborted, domainCode: "STALE_VERSION") {
                _ = try await market.administration.terminateBooking(
                    .init(bookingId: active.id, notes: "fraud", expectedVersion: .init(value: 1)), options: platform.callOptions
                )
            }
            let action = try await market.administration.terminateBooking(
                .init(bookingId: active.id, notes: "fraud", expectedVersion: .init(value: active.version)), options: platform.callOptions
            ).action!
            let terminated = try await world.bookings.getBooking(.init(bookingId: active.id), options: world.manager.callOptions).booking!
            #expect(terminated.status == .terminated && terminated.termination?.reason == .adminAction)
            #expect(terminated.termination?.terminatedBy == platform.userID && terminated.termination?.notes?.value == "fraud")
            #expect(try await world.openRecords(active.id).isEmpty)
            #expect(action.targetId == active.id)
        }
    }
}
