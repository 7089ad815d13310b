import Foundation
import KaroKarKernel

/// Maintenance (DOMAIN.md section 5): scheduling holds the vehicle at once with a MAINTENANCE
/// record (conflict-checked); completing or cancelling releases it.
extension Fleet {
    /// Maintenance of a vehicle the caller owns, holding it over `period` at once.
    nonisolated func scheduleMaintenance(
        vehicle id: UUID, period: Period, reason: String, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> MaintenanceRecord {
        try await changing(vehicle: id, expectedVersion: expectedVersion, invocation) { vehicle, work in
            try await scheduleMaintenance(on: vehicle, period: period, reason: reason, booking: nil, work)
        }
    }

    /// Start, complete or cancel: the record and its vehicle locked, in that order everywhere.
    nonisolated func moveMaintenance(
        _ id: UUID, _ action: MaintenanceAction, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> MaintenanceRecord {
        try await bus.mutation(invocation) { work in
            guard let found = try await MaintenanceStore.get(id, work) else { throw DomainError.notFound("maintenance record") }
            _ = try await FleetAccess.ownedVehicle(found.vehicleID, invocation.caller, work)
            guard let record = try await MaintenanceStore.lock(id, work) else { throw DomainError.notFound("maintenance record") }
            try ExpectedVersion.check(expectedVersion, record.version, "maintenance record")
            return try await moveMaintenance(record, action, work)
        }
    }

    /// One maintenance record of a vehicle the caller owns (or of any, for platform administrators).
    nonisolated func maintenance(_ id: UUID, _ invocation: Invocation) async throws -> MaintenanceRecord {
        try await bus.read(invocation) { work in
            guard let record = try await MaintenanceStore.get(id, work), invocation.caller.reaches(record.organizationID) else {
                throw DomainError.notFound("maintenance record")
            }
            return record
        }
    }

    /// A page of maintenance records, by creation: one vehicle's, or the caller's whole fleet
    /// (every fleet, for platform administrators).
    nonisolated func maintenanceRecords(
        _ filter: MaintenanceFilter, page: Page<TimeKey>, _ invocation: Invocation
    ) async throws -> [MaintenanceRecord] {
        try await bus.read(invocation) { work in
            var owner = FleetTenancy.ownScope(of: invocation.caller)
            if let vehicle = filter.vehicle {
                _ = try await FleetAccess.historyOf(vehicle, invocation.caller, work)
                owner = nil
            }
            return try await MaintenanceStore.list(filter, owner: owner, after: page.after, limit: page.fetchLimit, work)
        }
    }

    // MARK: - In a unit of work (the RPCs above, retirement, the booking reactions)

    /// Places the MAINTENANCE record and the maintenance; emits `maintenance.scheduled`. The
    /// caller holds the vehicle's lock.
    nonisolated func scheduleMaintenance(
        on vehicle: Vehicle, period: Period, reason: String, booking: UUID?, _ work: UnitOfWork
    ) async throws -> MaintenanceRecord {
        try vehicle.status.checkEditable()
        let row = try await AvailabilityEngine.holdForNew(.maintenance, .maintenance, over: period, on: vehicle, work)
        let record = try await MaintenanceStore.insert(row, reason: reason, booking: booking, work)
        try await work.publish(HoldEvents.maintenanceScheduled(record))
        return record
    }

    /// Moves a locked record; completing and cancelling release its MAINTENANCE record.
    nonisolated func moveMaintenance(_ record: MaintenanceRecord, _ action: MaintenanceAction, _ work: UnitOfWork) async throws -> MaintenanceRecord {
        let next = try record.status.after(action)
        let cancellation: String? = if case .cancel(let reason) = action { reason } else { nil }
        let moved = try await MaintenanceStore.move(record.id, to: next, cancellationReason: cancellation, work)
        if !next.holdsTheVehicle { try await AvailabilityEngine.release(.maintenance, record.id, work) }
        try await work.publish(HoldEvents.maintenanceMoved(moved, cancellation: cancellation))
        return moved
    }
}
