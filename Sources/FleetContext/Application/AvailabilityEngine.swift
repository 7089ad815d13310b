import Foundation
import KaroKarKernel

/// The availability engine: places, releases and re-labels records on a vehicle's timeline and
/// publishes what it did. Callers hold the vehicle's row lock (``VehicleStore/lock(_:_:)``), so
/// verbs on one vehicle take turns; the database decides conflicts regardless.
enum AvailabilityEngine {
    /// Places a record on a locked vehicle (conflict-checked: `VEHICLE_NOT_AVAILABLE`); emits
    /// `availability.created`.
    static func hold(_ hold: Hold, on vehicle: Vehicle, _ work: UnitOfWork) async throws -> AvailabilityRecord {
        let record = try await AvailabilityStore.insert(hold, on: vehicle, work)
        try await work.publish(HoldEvents.created(record))
        return record
    }

    /// Places the record of a new maintenance, suspension or block (`status` for `source`) on a
    /// locked vehicle: the row to store the aggregate with, under the record's source id.
    static func holdForNew(
        _ status: HoldStatus, _ source: HoldSource, over period: Period, on vehicle: Vehicle, _ work: UnitOfWork
    ) async throws -> HoldRow {
        let id = UUID.random()
        let record = try await hold(Hold(period: period, status: status, source: source, sourceID: id), on: vehicle, work)
        return HoldRow(id: id, vehicle: vehicle, period: period, hold: record.id, actor: work.actorID)
    }

    /// Releases every open record of a source (history is kept); emits `availability.released` each.
    @discardableResult
    static func release(_ source: HoldSource, _ sourceID: UUID, owner: UUID? = nil, _ work: UnitOfWork) async throws -> [AvailabilityRecord] {
        let records = try await AvailabilityStore.release(source, sourceID, owner: owner, work)
        for record in records {
            try await work.publish(HoldEvents.released(record))
        }
        return records
    }

    /// RESERVED -> ALLOCATED of an open record; emits `availability.status_changed`.
    static func change(_ record: AvailabilityRecord, to status: HoldStatus, _ work: UnitOfWork) async throws -> AvailabilityRecord {
        try HoldRules.checkChange(record, to: status)
        let changed = try await AvailabilityStore.setStatus(record.id, status, work)
        try await work.publish(HoldEvents.statusChanged(changed, from: record.status))
        return changed
    }
}
