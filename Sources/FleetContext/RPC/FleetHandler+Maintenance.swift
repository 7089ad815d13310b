import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarProto
import KaroKarRPC

extension FleetHandler {
    func scheduleMaintenance(_ request: FleetV1.ScheduleMaintenanceRequest, context: ServerCallContext) async throws -> FleetV1.ScheduleMaintenanceResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.vehicleId, "vehicleId")
        let period = check.period(request.period, "period")
        let reason = check.text(request.reason, "reason", maximumLength: 500)
        try check.finish()
        return try await fleet.mutation(context, request) { work in
            let vehicle = try await FleetAccess.ownedVehicle(id, caller, work)
            try ExpectedVersion.check(request.expectedVersion, vehicle.version, "vehicle")
            return FleetV1.ScheduleMaintenanceResponse(maintenance: try await HoldOperations.scheduleMaintenance(vehicle, period: period, reason: reason, work))
        }
    }

    func startMaintenance(_ request: FleetV1.StartMaintenanceRequest, context: ServerCallContext) async throws -> FleetV1.StartMaintenanceResponse {
        FleetV1.StartMaintenanceResponse(maintenance: try await move(request.maintenanceId, request.expectedVersion, .start, request, context))
    }

    func completeMaintenance(_ request: FleetV1.CompleteMaintenanceRequest, context: ServerCallContext) async throws -> FleetV1.CompleteMaintenanceResponse {
        FleetV1.CompleteMaintenanceResponse(maintenance: try await move(request.maintenanceId, request.expectedVersion, .complete, request, context))
    }

    func cancelMaintenance(_ request: FleetV1.CancelMaintenanceRequest, context: ServerCallContext) async throws -> FleetV1.CancelMaintenanceResponse {
        var check = Validation()
        let reason = request.reason.map { check.text($0.value, "reason", maximumLength: 500, required: false) }
        try check.finish()
        return FleetV1.CancelMaintenanceResponse(
            maintenance: try await move(request.maintenanceId, request.expectedVersion, .cancel(reason: reason), request, context)
        )
    }

    /// Start, complete or cancel: the record and its vehicle locked, in that order everywhere.
    private func move<Request: ProtoMessage>(
        _ maintenanceID: String, _ expected: CommonV1.Int64Value?, _ action: HoldOperations.MaintenanceAction, _ request: Request,
        _ context: ServerCallContext
    ) async throws -> FleetV1.MaintenanceRecord {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(maintenanceID, "maintenanceId")
        try check.finish()
        return try await fleet.mutation(context, request) { work in
            guard let found = try await MaintenanceStore.get(id, work) else { throw DomainError.notFound("maintenance record") }
            _ = try await FleetAccess.ownedVehicle(UUID(hyphenated: found.vehicleId)!, caller, work)
            guard let record = try await MaintenanceStore.lock(id, work) else { throw DomainError.notFound("maintenance record") }
            try ExpectedVersion.check(expected, record.version, "maintenance record")
            return try await HoldOperations.moveMaintenance(record, to: action, work)
        }
    }

    func getMaintenance(_ request: FleetV1.GetMaintenanceRequest, context: ServerCallContext) async throws -> FleetV1.GetMaintenanceResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.maintenanceId, "maintenanceId")
        try check.finish()
        return try await fleet.read(context) { work in
            guard let record = try await MaintenanceStore.get(id, work), FleetAccess.reaches(caller, record.organizationId) else {
                throw DomainError.notFound("maintenance record")
            }
            return FleetV1.GetMaintenanceResponse(maintenance: record)
        }
    }

    func listMaintenance(_ request: FleetV1.ListMaintenanceRequest, context: ServerCallContext) async throws -> FleetV1.ListMaintenanceResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let vehicleID = check.optionalUUID(request.vehicleId, "vehicleId")
        let statuses = request.statuses.enumerated().map { check.known($0.element, "statuses[\($0.offset)]").storedName ?? "" }
        let overlapping = request.overlapping.map { check.period($0, "overlapping") }
        try check.finish()
        let page = try Page(request.page)
        let after = try page.timeCursor()
        return try await fleet.read(context) { work in
            var scope = ListScope(vehicle: vehicleID, owner: caller.actsAcrossTenants ? nil : caller.organizationID)
            if let vehicleID {
                let vehicle = try await FleetAccess.visibleVehicle(vehicleID, caller, work)
                guard FleetAccess.reaches(caller, vehicle.organizationId) else { throw DomainError.notFound("vehicle") }
                scope.owner = nil
            }
            let rows = try await MaintenanceStore.list(scope: scope, statuses: statuses, overlapping: overlapping, after: after, limit: page.fetch, work)
            let (records, next) = page.cut(rows) { [$0.createdAt?.cursorText ?? "0", $0.id] }
            return FleetV1.ListMaintenanceResponse(maintenanceRecords: records, page: next)
        }
    }
}
