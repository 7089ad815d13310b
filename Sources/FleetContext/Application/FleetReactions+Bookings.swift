import Foundation
import KaroKarKernel
import KaroKarMessages

/// The availability side of a booking's lifecycle (DOMAIN.md sections 3 and 6), applied inside
/// the Booking context's transactions so booking and timeline never disagree:
///
/// | event | Fleet |
/// |---|---|
/// | `booking.approved` | a RESERVED record for the period, or a veto (`VEHICLE_NOT_AVAILABLE`): the approval fails |
/// | `booking.assigned` | the record becomes ALLOCATED |
/// | `booking.completed`, `booking.cancelled` | the record is released |
/// | `booking.terminated` | released; for ACCIDENT or VEHICLE_BREAKDOWN, maintenance from the termination to the planned end |
extension Fleet {
    nonisolated func applyBooking(_ event: EventsV1.EventEnvelope, _ work: UnitOfWork) async throws {
        switch event.payload {
        case .bookingApproved(let booking):
            try await reserve(booking, work)
        case .bookingAssigned(let booking):
            for record in try await AvailabilityStore.open(.booking, try bookingID(booking.bookingId), work) where record.status == .reserved {
                _ = try await FleetAccess.ownedVehicle(record.vehicleID, .system, work)
                _ = try await AvailabilityEngine.change(record, to: .allocated, work)
            }
        case .bookingCompleted(let booking):
            try await AvailabilityEngine.release(.booking, try bookingID(booking.bookingId), work)
        case .bookingCancelled(let booking):
            try await AvailabilityEngine.release(.booking, try bookingID(booking.bookingId), work)
        case .bookingTerminated(let booking):
            try await terminate(booking, work)
        default:
            return
        }
    }

    /// The path `karokar-bench reservations` measures: one lock, one owner read, one insert, one event.
    private nonisolated func reserve(_ booking: EventsV1.BookingApproved, _ work: UnitOfWork) async throws {
        var check = Validation()
        let id = check.uuid(booking.bookingId, "bookingId")
        let vehicleID = check.uuid(booking.vehicleId, "vehicleId")
        let period = check.period(booking.period, "period")
        try check.finish()
        let vehicle = try await FleetAccess.ownedVehicle(vehicleID, .system, work)
        // Only ACTIVE vendor listings of ACTIVE vendors are booked; the vendor comes from the vehicle.
        guard vehicle.status == .active, vehicle.ownership == .vendorOwned,
              vehicle.organizationID == UUID(hyphenated: booking.vendorOrganizationId),
              let owner = try await VehicleStore.owner(vehicle.organizationID, work), owner.isActive
        else { throw FleetError.vehicleNotAvailable() }
        _ = try await AvailabilityEngine.hold(Hold(period: period, status: .reserved, source: .booking, sourceID: id), on: vehicle, work)
    }

    private nonisolated func terminate(_ booking: EventsV1.BookingTerminated, _ work: UnitOfWork) async throws {
        let id = try bookingID(booking.bookingId)
        let released = try await AvailabilityEngine.release(.booking, id, work)
        guard booking.reason == .accident || booking.reason == .vehicleBreakdown, let record = released.first,
              let terminated = booking.terminatedAt, let end = booking.period?.end,
              let period = Period(start: Instant(terminated), end: Instant(end))
        else { return }
        let vehicle = try await FleetAccess.ownedVehicle(record.vehicleID, .system, work)
        // A termination must not fail for want of a free slot (a suspension may cover it): then no maintenance.
        guard vehicle.status != .retired, try await AvailabilityStore.isFree(vehicle.id, period, work) else { return }
        let reason = booking.reason == .accident ? "booking terminated after an accident" : "booking terminated after a breakdown"
        _ = try await scheduleMaintenance(on: vehicle, period: period, reason: reason, booking: id, work)
    }

    private nonisolated func bookingID(_ text: String) throws -> UUID {
        guard let id = UUID(hyphenated: text) else {
            throw DomainError(.invalidArgument, "MALFORMED_EVENT", "booking event without a booking id")
        }
        return id
    }
}
