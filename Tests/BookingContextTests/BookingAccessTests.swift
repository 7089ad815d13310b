import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// Who may call what: every RPC of BookingService and AllocationService as each role without its
/// permission (PERMISSION_DENIED) and as the wrong tenant (NOT_FOUND), nothing changed.
@Suite("Booking access: roles and tenants")
struct BookingAccessTests {
    typealias Call = @Sendable (BookingV1.BookingService.Client, BookingV1.AllocationService.Client, String, CallOptions) async throws -> Void

    /// Each RPC, the permissions its access rule accepts, and a call of it on a booking id.
    static let calls: [(String, Set<String>, Call)] = [
        ("CreateBooking", ["booking.create", "booking.create_own"], { b, _, _, o in _ = try await b.createBooking(.init(vehicleId: UUID().uuidString.lowercased(), period: period(1, 2)), options: o) }),
        ("SubmitBooking", ["booking.submit", "booking.submit_own"], { b, _, id, o in _ = try await b.submitBooking(.init(bookingId: id), options: o) }),
        ("ApproveBooking", ["booking.approve"], { b, _, id, o in _ = try await b.approveBooking(.init(bookingId: id), options: o) }),
        ("RejectBooking", ["booking.approve"], { b, _, id, o in _ = try await b.rejectBooking(.init(bookingId: id, reason: "no"), options: o) }),
        ("AssignBooking", ["booking.assign"], { b, _, id, o in _ = try await b.assignBooking(.init(bookingId: id, employeeId: UUID().uuidString.lowercased()), options: o) }),
        ("ActivateBooking", ["booking.activate"], { b, _, id, o in _ = try await b.activateBooking(.init(bookingId: id, evidence: reading(1, 1)), options: o) }),
        ("CompleteBooking", ["booking.complete"], { b, _, id, o in _ = try await b.completeBooking(.init(bookingId: id, evidence: reading(1, 1)), options: o) }),
        ("TerminateBooking", ["booking.terminate"], { b, _, id, o in _ = try await b.terminateBooking(.init(bookingId: id, reason: .other), options: o) }),
        ("CancelBooking", ["booking.cancel", "booking.cancel_own"], { b, _, id, o in _ = try await b.cancelBooking(.init(bookingId: id), options: o) }),
        ("GetBooking", ["booking.read", "booking.read_own"], { b, _, id, o in _ = try await b.getBooking(.init(bookingId: id), options: o) }),
        ("ListCorporateBookings", ["booking.read", "booking.read_own"], { b, _, _, o in _ = try await b.listCorporateBookings(.init(), options: o) }),
        ("ListVendorBookingRequests", ["booking.read"], { b, _, _, o in _ = try await b.listVendorBookingRequests(.init(), options: o) }),
        ("ExpireBookingRequests", ["booking.terminate"], { b, _, _, o in _ = try await b.expireBookingRequests(.init(), options: o) }),
        ("SetAllocation", ["allocation.manage"], { _, a, _, o in _ = try await a.setAllocation(.init(maxActiveBookings: 1), options: o) }),
        ("RemoveEmployeeAllocation", ["allocation.manage"], { _, a, _, o in _ = try await a.removeEmployeeAllocation(.init(employeeId: UUID().uuidString.lowercased()), options: o) }),
        ("ListAllocations", ["allocation.read"], { _, a, _, o in _ = try await a.listAllocations(.init(), options: o) }),
        ("GetAllocationUsage", ["allocation.read", "allocation.read_own"], { _, a, _, o in _ = try await a.getAllocationUsage(.init(), options: o) }),
    ]

    /// DOMAIN.md's table (with the booking and allocation rows as the Identity migration grants them).
    static let roles: [String: (IdentityV1.OrganizationType, Set<String>)] = [
        "PLATFORM_ADMIN": (.platform, ["booking.read", "booking.terminate", "allocation.read"]),
        "VENDOR_ADMIN": (.vendor, ["booking.read", "booking.approve"]),
        "VENDOR_STAFF": (.vendor, ["booking.read", "booking.approve"]),
        "CORPORATE_ADMIN": (.corporate, [
            "booking.create", "booking.submit", "booking.cancel", "booking.read", "booking.assign", "booking.activate", "booking.complete",
            "booking.terminate", "allocation.manage", "allocation.read",
        ]),
        "FLEET_MANAGER": (.corporate, [
            "booking.create", "booking.submit", "booking.cancel", "booking.read", "booking.assign", "booking.activate", "booking.complete",
            "booking.terminate", "allocation.manage", "allocation.read",
        ]),
        "EMPLOYEE": (.corporate, ["booking.create_own", "booking.submit_own", "booking.cancel_own", "booking.read_own", "allocation.read_own"]),
    ]

    @Test("each role without an RPC's permission: PERMISSION_DENIED, and nothing changed")
    func rolesWithoutPermission() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            let booking = try await world.requested(period(1, 2))
            var sessions: [String: TestSession] = [
                "PLATFORM_ADMIN": try await market.platformAdmin(), "VENDOR_ADMIN": world.vendor.admin, "CORPORATE_ADMIN": world.corporate.admin,
                "FLEET_MANAGER": world.manager, "EMPLOYEE": world.employee,
            ]
            sessions["VENDOR_STAFF"] = try await market.member(of: world.vendor, role: "VENDOR_STAFF")
            let before = try await world.bookings.getBooking(.init(bookingId: booking.id), options: world.corporate.admin.callOptions).booking!
            let events = try await world.count("SELECT count(*)::int FROM karokar_events.outbox")
            var denied = 0
            for (role, (_, granted)) in Self.roles {
                for (name, accepted, call) in Self.calls where granted.isDisjoint(with: accepted) {
                    await expectCode(.permissionDenied) { try await call(world.bookings, world.allocations, booking.id, sessions[role]!.callOptions) }
                    _ = name
                    denied += 1
                }
            }
            #expect(denied > 40)
            let after = try await world.bookings.getBooking(.init(bookingId: booking.id), options: world.corporate.admin.callOptions).booking!
            #expect(after == before)
            #expect(try await world.count("SELECT count(*)::int FROM karokar_events.outbox") == events)
        }
    }

    @Test("another corporate's or vendor's members, and a colleague employee: NOT_FOUND for the booking, nothing changed")
    func wrongTenant() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            let booking = try await world.requested(period(1, 2))
            let otherCorporate = try await market.onboard(.corporate)
            let otherVendor = try await market.onboard(.vendor)
            let colleague = try await market.member(of: world.corporate, role: "EMPLOYEE")
            let before = try await world.bookings.getBooking(.init(bookingId: booking.id), options: world.corporate.admin.callOptions).booking!
            let bookingVerbs: Set<String> = [
                "SubmitBooking", "ApproveBooking", "RejectBooking", "AssignBooking", "ActivateBooking", "CompleteBooking", "TerminateBooking",
                "CancelBooking", "GetBooking",
            ]
            for (session, role) in [(otherCorporate.admin, "CORPORATE_ADMIN"), (otherVendor.admin, "VENDOR_ADMIN"), (colleague, "EMPLOYEE")] {
                let granted = Self.roles[role]!.1
                for (name, accepted, call) in Self.calls where bookingVerbs.contains(name) && !granted.isDisjoint(with: accepted) {
                    await expectCode(.notFound) { try await call(world.bookings, world.allocations, booking.id, session.callOptions) }
                }
            }
            let listed = try await world.bookings.listCorporateBookings(.init(), options: otherCorporate.admin.callOptions).bookings
            let requests = try await world.bookings.listVendorBookingRequests(.init(), options: otherVendor.admin.callOptions).bookings
            let colleagues = try await world.bookings.listCorporateBookings(.init(), options: colleague.callOptions).bookings
            #expect(listed.isEmpty && requests.isEmpty && colleagues.isEmpty)
            await expectCode(.notFound) {
                _ = try await world.bookings.listCorporateBookings(.init(corporateOrganizationId: world.corporate.id), options: otherCorporate.admin.callOptions)
            }
            let after = try await world.bookings.getBooking(.init(bookingId: booking.id), options: world.corporate.admin.callOptions).booking!
            #expect(after == before)
        }
    }

    @Test("employees book only for themselves, within the allocation; a suspended corporate cannot create or submit")
    func employeesAndSuspendedCorporates() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            let own = try await world.draft(period(1, 2), as: world.employee)
            #expect(own.selfBooking && own.requestedBy == world.employee.userID)
            await expectCode(.failedPrecondition, domainCode: "ALLOCATION_EXCEEDED") {
                _ = try await world.bookings.submitBooking(.init(bookingId: own.id), options: world.employee.callOptions)
            }
            let managers = try await world.draft(period(3, 4), as: world.manager)
            #expect(!managers.selfBooking)
            await expectCode(.notFound) { _ = try await world.bookings.submitBooking(.init(bookingId: managers.id), options: world.employee.callOptions) }
            let platform = try await market.platformAdmin()
            _ = try await market.administration.suspendOrganization(.init(organizationId: world.corporate.id, notes: "unpaid"), options: platform.callOptions)
            // Identity strips the permissions that start new work from a suspended organization's
            // members (PERMISSION_DENIED); Booking refuses by itself too (ORGANIZATION_NOT_ACTIVE).
            for attempt in 0..<2 {
                let refused: Set<RPCCode> = [.permissionDenied, .failedPrecondition]
                do {
                    _ = try await world.bookings.createBooking(.init(vehicleId: world.vehicle.id, period: period(5, 6)), options: world.corporate.admin.callOptions)
                    if attempt == 1 { Issue.record("a suspended corporate created a booking") }
                } catch let error as RPCError {
                    #expect(refused.contains(error.code), "\(error)")
                    break
                }
                try await Task.sleep(for: .seconds(3))  // the principal cache's refresh
            }
            do {
                _ = try await world.bookings.submitBooking(.init(bookingId: managers.id), options: world.corporate.admin.callOptions)
                Issue.record("a suspended corporate submitted a booking")
            } catch let error as RPCError {
                #expect([RPCCode.permissionDenied, .failedPrecondition].contains(error.code), "\(error)")
            }
        }
    }
}
