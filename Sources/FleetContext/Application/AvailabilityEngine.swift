import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres

/// The availability engine: places, releases and re-labels records on a vehicle's timeline and
/// publishes what it did. Callers hold the vehicle's row lock (``VehicleStore/lock(_:_:)``), so
/// verbs on one vehicle take turns; the database decides conflicts regardless.
enum AvailabilityEngine {
    /// Places a record (conflict-checked: `VEHICLE_NOT_AVAILABLE`); emits `availability.created`.
    static func hold(_ hold: AvailabilityStore.NewHold, _ work: UnitOfWork) async throws -> FleetV1.AvailabilityRecord {
        let record = try await AvailabilityStore.insert(hold, work)
        try await work.publish(EventDraft(
            "availability.created", aggregateType: "vehicle", aggregateID: record.vehicleId,
            payload: .availabilityCreated(EventsV1.AvailabilityCreated(
                recordId: record.id, vehicleId: record.vehicleId, organizationId: record.organizationId, period: record.period,
                status: record.status.converted(), sourceType: record.sourceType.converted(), sourceId: record.sourceId
            ))
        ))
        return record
    }

    /// Releases every open record of a source (history is kept); emits `availability.released` each.
    @discardableResult
    static func release(_ source: HoldSource, _ sourceID: UUID, _ work: UnitOfWork) async throws -> [FleetV1.AvailabilityRecord] {
        let records = try await AvailabilityStore.release(source, sourceID, work)
        for record in records {
            try await work.publish(EventDraft(
                "availability.released", aggregateType: "vehicle", aggregateID: record.vehicleId,
                payload: .availabilityReleased(EventsV1.AvailabilityReleased(
                    recordId: record.id, vehicleId: record.vehicleId, organizationId: record.organizationId, period: record.period,
                    status: record.status.converted(), sourceType: record.sourceType.converted(), sourceId: record.sourceId,
                    releasedAt: record.releasedAt
                ))
            ))
        }
        return records
    }

    /// RESERVED -> ALLOCATED of an open record; emits `availability.status_changed`.
    static func change(_ record: FleetV1.AvailabilityRecord, to status: HoldStatus, _ work: UnitOfWork) async throws -> FleetV1.AvailabilityRecord {
        guard record.releasedAt == nil, let current = HoldStatus(rawValue: record.status.storedName ?? ""),
              HoldRules.mayChange(from: current, to: status)
        else {
            throw DomainError.failedPrecondition("INVALID_AVAILABILITY_TRANSITION", "only an open RESERVED record can become ALLOCATED")
        }
        let changed = try await AvailabilityStore.setStatus(UUID(hyphenated: record.id)!, status, work)
        try await work.publish(EventDraft(
            "availability.status_changed", aggregateType: "vehicle", aggregateID: changed.vehicleId,
            payload: .availabilityStatusChanged(EventsV1.AvailabilityStatusChanged(
                recordId: changed.id, vehicleId: changed.vehicleId, organizationId: changed.organizationId,
                previousStatus: record.status.converted(), status: changed.status.converted(), sourceType: changed.sourceType.converted(),
                sourceId: changed.sourceId
            ))
        ))
        return changed
    }
}

extension UnitOfWork {
    /// Who acts, for `created_by` columns: the principal's id, or `system`.
    var actorID: String {
        origin.actor.id.isEmpty ? "system" : origin.actor.id
    }
}
