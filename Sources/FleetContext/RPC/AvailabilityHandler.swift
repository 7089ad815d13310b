import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import KaroKarServices

/// `karokar.fleet.v1.AvailabilityService`: the engine's operations for operators, internal
/// services and calendar views (the use cases are in `Application/Fleet+Availability.swift`).
struct AvailabilityHandler: FleetV1.AvailabilityService.Handler {
    let fleet: Fleet

    func checkAvailability(
        _ request: FleetV1.CheckAvailabilityRequest, context: ServerCallContext
    ) async throws -> FleetV1.CheckAvailabilityResponse {
        var check = Validation()
        let id = check.uuid(request.vehicleId, "vehicleId")
        let period = check.openPeriod(request.period, "period")
        try check.finish()
        let (available, minutes) = try await fleet.isAvailable(id, period: period, Invocation(context, fingerprint: request))
        return FleetV1.CheckAvailabilityResponse(available: available, turnaroundMinutes: UInt32(clamping: minutes))
    }

    func createAvailabilityRecord(
        _ request: FleetV1.CreateAvailabilityRecordRequest, context: ServerCallContext
    ) async throws -> FleetV1.CreateAvailabilityRecordResponse {
        var check = Validation()
        let vehicle = check.uuid(request.vehicleId, "vehicleId")
        let period = check.openPeriod(request.period, "period")
        let refused = check.violations.count
        let status = check.known(request.status, "status", as: HoldStatus.self)
        let source = check.known(request.sourceType, "sourceType", as: HoldSource.self)
        if check.violations.count == refused {
            if !HoldRules.sourceFits(status, source) {
                check.add("sourceType", "MISMATCH", "a \(status.rawValue) record cannot belong to a \(source.rawValue)")
            } else if period.isOpen, !HoldRules.mayBeOpenEnded(status, source) {
                check.add("period.end", "REQUIRED", "only suspensions and open-ended assignments may be open-ended")
            }
        }
        let hold = Hold(period: period, status: status, source: source, sourceID: check.uuid(request.sourceId, "sourceId"))
        try check.finish()
        let record = try await fleet.createAvailabilityRecord(vehicle: vehicle, hold, Invocation(context, fingerprint: request))
        return FleetV1.CreateAvailabilityRecordResponse(record: record.message)
    }

    func releaseAvailability(
        _ request: FleetV1.ReleaseAvailabilityRequest, context: ServerCallContext
    ) async throws -> FleetV1.ReleaseAvailabilityResponse {
        var check = Validation()
        let source = check.known(request.sourceType, "sourceType", as: HoldSource.self)
        let sourceID = check.uuid(request.sourceId, "sourceId")
        try check.finish()
        let records = try await fleet.releaseAvailability(source, sourceID, Invocation(context, fingerprint: request))
        return FleetV1.ReleaseAvailabilityResponse(records: records.map(\.message))
    }

    func changeAvailabilityStatus(
        _ request: FleetV1.ChangeAvailabilityStatusRequest, context: ServerCallContext
    ) async throws -> FleetV1.ChangeAvailabilityStatusResponse {
        var check = Validation()
        let id = check.uuid(request.recordId, "recordId")
        let status = check.known(request.status, "status", as: HoldStatus.self)
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let record = try await fleet.changeAvailabilityStatus(id, to: status, expectedVersion: version, Invocation(context, fingerprint: request))
        return FleetV1.ChangeAvailabilityStatusResponse(record: record.message)
    }

    func getVehicleTimeline(
        _ request: FleetV1.GetVehicleTimelineRequest, context: ServerCallContext
    ) async throws -> FleetV1.GetVehicleTimelineResponse {
        var check = Validation()
        let id = check.uuid(request.vehicleId, "vehicleId")
        let window = check.period(request.period, "period")
        try check.finish()
        let page = try Page<TimeKey>(request.page, list: "fleet.timeline", tokens: fleet.environment.pages, maximum: 500)
        let rows = try await fleet.timeline(
            of: id, window: window, includeReleased: request.includeReleased, page: page, Invocation(context, fingerprint: request)
        )
        let (records, next) = page.cut(rows) { TimeKey($0.period.start, $0.id) }
        return FleetV1.GetVehicleTimelineResponse(records: records.map(\.message), page: next)
    }
}
