import Foundation
@testable import FleetContext
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import Testing

/// Booking's events as Fleet applies them inside the publishing transaction (the Booking context
/// publishes them; here the test does).
@Suite("Fleet reacts to bookings: reserve or veto, allocate, release, maintenance after an accident")
struct BookingReactionTests {
    struct Setup {
        let world: FleetWorld
        let vendor: UUID
        let vehicle: FleetV1.Vehicle
    }

    private func setup() async throws -> Setup {
        let world = try await FleetWorld.make()
        let vendor = try await world.organization(.vendor)
        return Setup(world: world, vendor: vendor, vehicle: try await world.activeVehicle(vendor, .vendor))
    }

    private func publish(_ world: FleetWorld, _ type: String, _ booking: UUID, _ payload: EventsV1.EventEnvelope.PayloadOneof) async throws {
        try await world.bus.transaction(.system()) { work in
            try await work.query("INSERT INTO karokar_kernel.idempotency (scope, key, method, request_hash) VALUES ('booking-row', \(booking.lowercasedString + type), 'x', '\\x00')")
            try await work.publish(EventDraft(type, aggregateType: "booking", aggregateID: booking.lowercasedString, payload: payload))
        }
    }

    private func approved(_ setup: Setup, _ booking: UUID, _ start: Double, _ end: Double) -> EventsV1.EventEnvelope.PayloadOneof {
        .bookingApproved(EventsV1.BookingApproved(
            bookingId: booking.lowercasedString, vehicleId: setup.vehicle.id, vendorOrganizationId: setup.vendor.lowercasedString,
            corporateOrganizationId: UUID().lowercasedString, period: period(start, end)
        ))
    }

    @Test("an approval reserves the period; an overlapping approval is vetoed and leaves nothing, not even its own change")
    func approveOrVeto() async throws {
        let setup = try await setup()
        let world = setup.world
        let first = UUID(), second = UUID()
        try await publish(world, "booking.approved", first, approved(setup, first, 1, 5))
        do {
            try await publish(world, "booking.approved", second, approved(setup, second, 4, 8))
            Issue.record("an overlapping approval went through")
        } catch {
            #expect(error.domainCode == "VEHICLE_NOT_AVAILABLE")
        }
        #expect(try await world.count("SELECT count(*)::int FROM fleet.availability WHERE source_type = 'BOOKING'") == 1)
        #expect(try await world.count("SELECT count(*)::int FROM karokar_kernel.idempotency WHERE scope = 'booking-row'") == 1, "the publisher's own row rolled back with the veto")
        #expect(try await world.count("SELECT count(*)::int FROM karokar_events.outbox WHERE aggregate_id = \(second.lowercasedString)") == 0)
        await world.pool.close()
    }

    @Test("a booking of another vendor's vehicle, or of a suspended vehicle, is vetoed")
    func wrongVendorOrSuspended() async throws {
        let setup = try await setup()
        let world = setup.world
        let booking = UUID()
        var payload = EventsV1.BookingApproved(
            bookingId: booking.lowercasedString, vehicleId: setup.vehicle.id, vendorOrganizationId: UUID().lowercasedString, period: period(1, 2)
        )
        await #expect { try await publish(world, "booking.approved", booking, .bookingApproved(payload)) } throws: { $0.domainCode == "VEHICLE_NOT_AVAILABLE" }
        payload.vendorOrganizationId = setup.vendor.lowercasedString
        _ = try await world.handler.suspendVehicle(.init(vehicleId: setup.vehicle.id, reason: .vendorRequest, period: openPeriod(10)), context: world.context(setup.vendor, .vendor))
        await #expect { try await publish(world, "booking.approved", booking, .bookingApproved(payload)) } throws: { $0.domainCode == "VEHICLE_NOT_AVAILABLE" }
        await world.pool.close()
    }

    @Test("assigned -> ALLOCATED; completed and cancelled release; history is kept")
    func lifecycle() async throws {
        let setup = try await setup()
        let world = setup.world
        let kept = UUID(), dropped = UUID()
        try await publish(world, "booking.approved", kept, approved(setup, kept, 1, 3))
        try await publish(world, "booking.approved", dropped, approved(setup, dropped, 5, 7))
        try await publish(world, "booking.assigned", kept, .bookingAssigned(EventsV1.BookingAssigned(bookingId: kept.lowercasedString, vehicleId: setup.vehicle.id)))
        #expect(try await world.count("SELECT count(*)::int FROM fleet.availability WHERE source_id = \(kept) AND status = 'ALLOCATED' AND released_at IS NULL") == 1)
        try await publish(world, "booking.completed", kept, .bookingCompleted(EventsV1.BookingCompleted(bookingId: kept.lowercasedString)))
        try await publish(world, "booking.cancelled", dropped, .bookingCancelled(EventsV1.BookingCancelled(bookingId: dropped.lowercasedString)))
        #expect(try await world.count("SELECT count(*)::int FROM fleet.availability WHERE released_at IS NULL") == 0)
        #expect(try await world.count("SELECT count(*)::int FROM fleet.availability WHERE source_type = 'BOOKING'") == 2)
        await world.pool.close()
    }

    @Test("terminated after an accident: released, and maintenance holds the vehicle to the planned end", arguments: [
        (EventsV1.TerminationReason.accident, 1), (.vehicleBreakdown, 1), (.corporateRecall, 0),
    ])
    func termination(reason: EventsV1.TerminationReason, maintenance: Int) async throws {
        let setup = try await setup()
        let world = setup.world
        let booking = UUID()
        try await publish(world, "booking.approved", booking, approved(setup, booking, 1, 10))
        let (terminatedAt, _) = days(4, nil)
        try await publish(world, "booking.terminated", booking, .bookingTerminated(EventsV1.BookingTerminated(
            bookingId: booking.lowercasedString, vehicleId: setup.vehicle.id, period: period(1, 10), reason: reason, terminatedAt: terminatedAt
        )))
        #expect(try await world.count("SELECT count(*)::int FROM fleet.availability WHERE source_type = 'BOOKING' AND released_at IS NULL") == 0)
        #expect(try await world.count("SELECT count(*)::int FROM fleet.maintenance WHERE booking_id = \(booking) AND lower(period) = \(PostgresTimestamp(seconds: terminatedAt.seconds))::timestamptz") == maintenance)
        await world.pool.close()
    }
}
