import Foundation
import KaroKarKernel
import KaroKarMessages

/// The availability side of a corporate-owned vehicle's direct assignment (DOMAIN.md section 7),
/// applied inside the Assignment context's transactions. A booking's assignment holds nothing of
/// its own (its booking's record does), so only assignments without a booking are handled:
///
/// | event | Fleet |
/// |---|---|
/// | `assignment.created` | an ALLOCATED / ASSIGNMENT record for the period (an open end allowed), on an ACTIVE corporate-owned vehicle of the assignment's corporate; else a veto (`VEHICLE_NOT_AVAILABLE`) |
/// | `assignment.rejected`, `assignment.completed`, `assignment.closed` | the record is released |
extension Fleet {
    nonisolated func applyAssignment(_ event: EventsV1.EventEnvelope, _ work: UnitOfWork) async throws {
        switch event.payload {
        case .assignmentCreated(let assignment) where assignment.bookingId == nil:
            try await allocate(assignment, work)
        case .assignmentRejected(let assignment) where assignment.bookingId == nil:
            try await releaseAssignment(assignment.assignmentId, work)
        case .assignmentCompleted(let assignment) where assignment.bookingId == nil:
            try await releaseAssignment(assignment.assignmentId, work)
        case .assignmentClosed(let assignment) where assignment.bookingId == nil:
            try await releaseAssignment(assignment.assignmentId, work)
        default:
            return
        }
    }

    private nonisolated func allocate(_ assignment: EventsV1.AssignmentCreated, _ work: UnitOfWork) async throws {
        var check = Validation()
        let id = check.uuid(assignment.assignmentId, "assignmentId")
        let vehicleID = check.uuid(assignment.vehicleId, "vehicleId")
        let period = check.openPeriod(assignment.period, "period")
        try check.finish()
        let vehicle = try await FleetAccess.ownedVehicle(vehicleID, .system, work)
        guard vehicle.status == .active, vehicle.ownership == .corporateOwned,
              vehicle.organizationID == UUID(hyphenated: assignment.corporateOrganizationId)
        else { throw FleetError.vehicleNotAvailable() }
        _ = try await AvailabilityEngine.hold(Hold(period: period, status: .allocated, source: .assignment, sourceID: id), on: vehicle, work)
    }

    private nonisolated func releaseAssignment(_ text: String, _ work: UnitOfWork) async throws {
        guard let id = UUID(hyphenated: text) else {
            throw DomainError(.invalidArgument, "MALFORMED_EVENT", "assignment event without an assignment id")
        }
        for record in try await AvailabilityStore.open(.assignment, id, work) {
            _ = try await FleetAccess.ownedVehicle(record.vehicleID, .system, work)
        }
        try await AvailabilityEngine.release(.assignment, id, work)
    }
}
