import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarProto
import KaroKarRPC

/// Maintenance: schedule, start, complete, cancel, read.
extension FleetHandler {
    func scheduleMaintenance(
        _ request: FleetV1.ScheduleMaintenanceRequest, context: ServerCallContext
    ) async throws -> FleetV1.ScheduleMaintenanceResponse {
        var check = Validation()
        let id = check.uuid(request.vehicleId, "vehicleId")
        let period = check.period(request.period, "period")
        let reason = check.text(request.reason, "reason", maximumLength: 500)
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let record = try await fleet.scheduleMaintenance(
            vehicle: id, period: period, reason: reason, expectedVersion: version, Invocation(context, fingerprint: request)
        )
        return FleetV1.ScheduleMaintenanceResponse(maintenance: record.message)
    }

    func startMaintenance(_ request: FleetV1.StartMaintenanceRequest, context: ServerCallContext) async throws -> FleetV1.StartMaintenanceResponse {
        FleetV1.StartMaintenanceResponse(maintenance: try await move(request, request.maintenanceId, .start, request.expectedVersion, context))
    }

    func completeMaintenance(
        _ request: FleetV1.CompleteMaintenanceRequest, context: ServerCallContext
    ) async throws -> FleetV1.CompleteMaintenanceResponse {
        FleetV1.CompleteMaintenanceResponse(maintenance: try await move(request, request.maintenanceId, .complete, request.expectedVersion, context))
    }

    func cancelMaintenance(_ request: FleetV1.CancelMaintenanceRequest, context: ServerCallContext) async throws -> FleetV1.CancelMaintenanceResponse {
        var check = Validation()
        let reason = check.optionalText(request.reason, "reason", maximumLength: 500)
        try check.finish()
        let action = MaintenanceAction.cancel(reason: reason)
        return FleetV1.CancelMaintenanceResponse(maintenance: try await move(request, request.maintenanceId, action, request.expectedVersion, context))
    }

    /// Start, complete or cancel one record.
    private func move<Request: ProtoMessage>(
        _ request: Request, _ maintenanceID: String, _ action: MaintenanceAction, _ expected: CommonV1.Int64Value?, _ context: ServerCallContext
    ) async throws -> FleetV1.MaintenanceRecord {
        var check = Validation()
        let id = check.uuid(maintenanceID, "maintenanceId")
        let version = check.expectedVersion(expected)
        try check.finish()
        return try await fleet.moveMaintenance(id, action, expectedVersion: version, Invocation(context, fingerprint: request)).message
    }

    func getMaintenance(_ request: FleetV1.GetMaintenanceRequest, context: ServerCallContext) async throws -> FleetV1.GetMaintenanceResponse {
        var check = Validation()
        let id = check.uuid(request.maintenanceId, "maintenanceId")
        try check.finish()
        let record = try await fleet.maintenance(id, Invocation(context, fingerprint: request))
        return FleetV1.GetMaintenanceResponse(maintenance: record.message)
    }

    func listMaintenance(_ request: FleetV1.ListMaintenanceRequest, context: ServerCallContext) async throws -> FleetV1.ListMaintenanceResponse {
        var check = Validation()
        var filter = MaintenanceFilter()
        filter.vehicle = check.optionalUUID(request.vehicleId, "vehicleId")
        filter.statuses = request.statuses.enumerated().map { check.known($0.element, "statuses[\($0.offset)]", as: MaintenanceState.self) }
        filter.overlapping = request.overlapping.map { check.period($0, "overlapping") }
        try check.finish()
        let page = try Page<TimeKey>(request.page, list: "fleet.maintenance", tokens: pages, maximum: 200)
        let rows = try await fleet.maintenanceRecords(filter, page: page, Invocation(context, fingerprint: request))
        let (records, next) = page.cut(rows) { TimeKey($0.createdAt, $0.id) }
        return FleetV1.ListMaintenanceResponse(maintenanceRecords: records.map(\.message), page: next)
    }
}
