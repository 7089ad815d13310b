import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// The vendor's turnaround buffer: enforced by the database with the no-overlap rule, and applied
/// by availability checks and search.
@Suite("Turnaround buffer")
struct TurnaroundTests {
    @Test("a 2-hour buffer: a booking starting 1 h after another ends is refused at approval, one starting 2 h after is approved")
    func buffer() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            let fleet = FleetV1.FleetService.Client(market.client)
            let availability = FleetV1.AvailabilityService.Client(market.client)
            let set = try await fleet.setTurnaroundBuffer(.init(minutes: 120), options: world.vendor.admin.callOptions)
            #expect(set.minutes == 120 && set.organizationId == world.vendor.id)
            _ = try await world.approve(try await world.requested(period(1, 2)).id)
            let hour = 1.0 / 24
            let tooSoon = try await world.requested(period(2 + hour, 3))
            let onTime = try await world.requested(period(2 + 2 * hour, 3))
            let check = try await availability.checkAvailability(
                .init(vehicleId: world.vehicle.id, period: .init(start: period(2 + hour, 3).start, end: period(2 + hour, 3).end)),
                options: world.corporate.admin.callOptions
            )
            #expect(!check.available && check.turnaroundMinutes == 120)
            let search = try await fleet.searchAvailableVehicles(
                .init(period: period(2 + hour, 3)), options: world.corporate.admin.callOptions
            )
            #expect(!search.vehicles.contains { $0.id == world.vehicle.id })
            await expectCode(.failedPrecondition, domainCode: "VEHICLE_NOT_AVAILABLE") { _ = try await world.approve(tooSoon.id) }
            #expect(try await world.approve(onTime.id).status == .approved)
        }
    }
}
