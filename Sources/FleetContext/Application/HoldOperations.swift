import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres

/// Maintenance, suspensions and manual blocks: aggregates that each own one availability record.
/// The caller holds the vehicle's lock.
enum HoldOperations {
    // MARK: - Maintenance

    static func scheduleMaintenance(
        _ vehicle: FleetV1.Vehicle, period: PostgresTimestampRange, reason: String, booking: UUID? = nil, _ work: UnitOfWork
    ) async throws -> FleetV1.MaintenanceRecord {
        try VehicleOperations.state(vehicle).checkEditable()
        let id = UUID.random()
        let hold = try await AvailabilityEngine.hold(newHold(vehicle, period, .maintenance, .maintenance, id), work)
        let record = try await MaintenanceStore.insert(
            id: id, vehicle: vehicle, period: period, reason: reason, hold: UUID(hyphenated: hold.id)!, booking: booking, by: work.actorID, work
        )
        try await work.publish(EventDraft(
            "maintenance.scheduled", aggregateType: "maintenance", aggregateID: record.id, aggregateVersion: record.version,
            payload: .maintenanceScheduled(EventsV1.MaintenanceScheduled(
                maintenanceId: record.id, vehicleId: record.vehicleId, organizationId: record.organizationId, period: record.period,
                reason: record.reason, availabilityRecordId: record.availabilityRecordId, bookingId: record.bookingId
            ))
        ))
        return record
    }

    /// Start, complete or cancel; completing and cancelling release the MAINTENANCE record.
    static func moveMaintenance(
        _ record: FleetV1.MaintenanceRecord, to action: MaintenanceAction, _ work: UnitOfWork
    ) async throws -> FleetV1.MaintenanceRecord {
        let current = MaintenanceState(rawValue: record.status.storedName ?? "") ?? .cancelled
        let next: MaintenanceState
        var cancellation: String?
        switch action {
        case .start: next = try current.started()
        case .complete: next = try current.completed()
        case .cancel(let reason):
            next = try current.cancelled()
            cancellation = reason
        }
        let id = UUID(hyphenated: record.id)!
        let moved = try await MaintenanceStore.move(id, to: next, cancellationReason: cancellation, work)
        if !next.holdsTheVehicle { try await AvailabilityEngine.release(.maintenance, id, work) }
        try await work.publish(maintenanceEvent(moved, next, cancellation))
        return moved
    }

    enum MaintenanceAction: Sendable {
        case start
        case complete
        case cancel(reason: String?)
    }

    private static func maintenanceEvent(_ record: FleetV1.MaintenanceRecord, _ state: MaintenanceState, _ reason: String?) -> EventDraft {
        let payload: EventsV1.EventEnvelope.PayloadOneof
        let type: String
        switch state {
        case .inProgress:
            type = "maintenance.started"
            payload = .maintenanceStarted(EventsV1.MaintenanceStarted(
                maintenanceId: record.id, vehicleId: record.vehicleId, organizationId: record.organizationId, period: record.period
            ))
        case .completed:
            type = "maintenance.completed"
            payload = .maintenanceCompleted(EventsV1.MaintenanceCompleted(
                maintenanceId: record.id, vehicleId: record.vehicleId, organizationId: record.organizationId, period: record.period,
                availabilityRecordId: record.availabilityRecordId
            ))
        case .cancelled, .scheduled:
            type = "maintenance.cancelled"
            payload = .maintenanceCancelled(EventsV1.MaintenanceCancelled(
                maintenanceId: record.id, vehicleId: record.vehicleId, organizationId: record.organizationId, period: record.period,
                availabilityRecordId: record.availabilityRecordId, reason: reason.map { CommonV1.StringValue(value: $0) }
            ))
        }
        return EventDraft(type, aggregateType: "maintenance", aggregateID: record.id, aggregateVersion: record.version, payload: payload)
    }

    // MARK: - Manual blocks

    static func placeBlock(
        _ vehicle: FleetV1.Vehicle, period: PostgresTimestampRange, reason: String, moderationAction: String? = nil, _ work: UnitOfWork
    ) async throws -> FleetV1.VehicleBlock {
        try VehicleOperations.state(vehicle).checkEditable()
        let id = UUID.random()
        let hold = try await AvailabilityEngine.hold(newHold(vehicle, period, .blocked, .manualBlock, id), work)
        let block = try await BlockStore.insert(id: id, vehicle: vehicle, period: period, reason: reason, hold: UUID(hyphenated: hold.id)!, by: work.actorID, work)
        try await work.publish(EventDraft(
            "vehicle.block_placed", aggregateType: "vehicle", aggregateID: vehicle.id,
            payload: .vehicleBlockPlaced(EventsV1.VehicleBlockPlaced(
                blockId: block.id, vehicleId: block.vehicleId, organizationId: block.organizationId, period: block.period,
                reason: block.reason, availabilityRecordId: block.availabilityRecordId,
                moderationActionId: moderationAction.map { CommonV1.StringValue(value: $0) }
            ))
        ))
        return block
    }

    static func removeBlock(_ block: FleetV1.VehicleBlock, _ work: UnitOfWork) async throws -> FleetV1.VehicleBlock {
        guard block.removedAt == nil else {
            throw DomainError.failedPrecondition("BLOCK_ALREADY_REMOVED", "the block was already removed")
        }
        let id = UUID(hyphenated: block.id)!
        let removed = try await BlockStore.remove(id, by: work.actorID, work)
        try await AvailabilityEngine.release(.manualBlock, id, work)
        try await work.publish(EventDraft(
            "vehicle.block_removed", aggregateType: "vehicle", aggregateID: removed.vehicleId,
            payload: .vehicleBlockRemoved(EventsV1.VehicleBlockRemoved(
                blockId: removed.id, vehicleId: removed.vehicleId, organizationId: removed.organizationId,
                availabilityRecordId: removed.availabilityRecordId
            ))
        ))
        return removed
    }

    // MARK: - Retirement

    /// Cancels open maintenance, removes blocks in force and lifts open suspensions.
    static func closeEverything(on vehicle: FleetV1.Vehicle, _ work: UnitOfWork) async throws {
        let id = UUID(hyphenated: vehicle.id)!
        let open = try await MaintenanceStore.list(
            scope: ListScope(vehicle: id), statuses: ["SCHEDULED", "IN_PROGRESS"], overlapping: nil, after: nil, limit: 10_000, work
        )
        for record in open {
            _ = try await moveMaintenance(record, to: .cancel(reason: "vehicle retired"), work)
        }
        for block in try await BlockStore.list(vehicle: id, includeRemoved: false, after: nil, limit: 10_000, work) {
            _ = try await removeBlock(block, work)
        }
        for suspension in try await SuspensionStore.openOnes(vehicle: id, work) {
            _ = try await SuspensionOperations.lift(suspension, vehicle: vehicle, notes: "vehicle retired", retiring: true, work)
        }
    }

    static func newHold(
        _ vehicle: FleetV1.Vehicle, _ period: PostgresTimestampRange, _ status: HoldStatus, _ source: HoldSource, _ sourceID: UUID
    ) -> AvailabilityStore.NewHold {
        AvailabilityStore.NewHold(
            vehicle: UUID(hyphenated: vehicle.id)!, owner: UUID(hyphenated: vehicle.organizationId)!, period: period, status: status,
            source: source, sourceID: sourceID
        )
    }
}
