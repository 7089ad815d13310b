import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServices

/// `karokar.fleet.v1.AvailabilityService`: the engine's operations for operators, internal
/// services and calendar views. Records owned by Fleet's own aggregates (maintenance, suspensions,
/// blocks) are placed and released only through those aggregates' verbs, so a record never
/// outlives or predates what it stands for; here one places and releases BOOKING and ASSIGNMENT
/// records.
struct AvailabilityHandler: FleetV1.AvailabilityService.Handler {
    let fleet: Fleet

    func checkAvailability(_ request: FleetV1.CheckAvailabilityRequest, context: ServerCallContext) async throws -> FleetV1.CheckAvailabilityResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.vehicleId, "vehicleId")
        let period = check.openPeriod(request.period, "period")
        try check.finish()
        return try await fleet.read(context) { work in
            _ = try await FleetAccess.visibleVehicle(id, caller, work)
            return FleetV1.CheckAvailabilityResponse(available: try await AvailabilityStore.isFree(id, period, work))
        }
    }

    func createAvailabilityRecord(_ request: FleetV1.CreateAvailabilityRecordRequest, context: ServerCallContext) async throws -> FleetV1.CreateAvailabilityRecordResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.vehicleId, "vehicleId")
        let period = check.openPeriod(request.period, "period")
        let status = HoldStatus(rawValue: check.known(request.status, "status").storedName ?? "")
        let source = HoldSource(rawValue: check.known(request.sourceType, "sourceType").storedName ?? "")
        let sourceID = check.uuid(request.sourceId, "sourceId")
        if let status, let source {
            if !HoldRules.sourceFits(status, source) {
                check.add("sourceType", "MISMATCH", "a \(status.rawValue) record cannot belong to a \(source.rawValue)")
            } else if period.upper == nil, !HoldRules.mayBeOpenEnded(status, source) {
                check.add("period.end", "REQUIRED", "only suspensions and open-ended assignments may be open-ended")
            }
        }
        try check.finish()
        guard let status, let source, source == .booking || source == .assignment else {
            throw DomainError.failedPrecondition("SOURCE_MANAGED_BY_FLEET", "maintenance, suspension and block records are placed through their own verbs")
        }
        return try await fleet.mutation(context, request) { work in
            let vehicle = try await FleetAccess.ownedVehicle(id, caller, work)
            guard VehicleOperations.state(vehicle) == .active else { throw FleetError.vehicleNotAvailable() }
            let hold = HoldOperations.newHold(vehicle, period, status, source, sourceID)
            return FleetV1.CreateAvailabilityRecordResponse(record: try await AvailabilityEngine.hold(hold, work))
        }
    }

    func releaseAvailability(_ request: FleetV1.ReleaseAvailabilityRequest, context: ServerCallContext) async throws -> FleetV1.ReleaseAvailabilityResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let source = HoldSource(rawValue: check.known(request.sourceType, "sourceType").storedName ?? "")
        let sourceID = check.uuid(request.sourceId, "sourceId")
        try check.finish()
        guard let source, source == .booking || source == .assignment else {
            throw DomainError.failedPrecondition("SOURCE_MANAGED_BY_FLEET", "maintenance, suspension and block records are released through their own verbs")
        }
        return try await fleet.mutation(context, request) { work in
            // Lock each vehicle the source holds, and only touch records the caller reaches.
            for record in try await AvailabilityStore.open(source, sourceID, work) {
                _ = try await FleetAccess.ownedVehicle(UUID(hyphenated: record.vehicleId)!, caller, work)
            }
            return FleetV1.ReleaseAvailabilityResponse(records: try await AvailabilityEngine.release(source, sourceID, work))
        }
    }

    func changeAvailabilityStatus(_ request: FleetV1.ChangeAvailabilityStatusRequest, context: ServerCallContext) async throws -> FleetV1.ChangeAvailabilityStatusResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.recordId, "recordId")
        let status = HoldStatus(rawValue: check.known(request.status, "status").storedName ?? "")
        try check.finish()
        return try await fleet.mutation(context, request) { work in
            guard let found = try await AvailabilityStore.lock(id, work), FleetAccess.reaches(caller, found.organizationId) else {
                throw DomainError.notFound("availability record")
            }
            _ = try await FleetAccess.ownedVehicle(UUID(hyphenated: found.vehicleId)!, caller, work)
            try ExpectedVersion.check(request.expectedVersion, found.version, "availability record")
            return FleetV1.ChangeAvailabilityStatusResponse(record: try await AvailabilityEngine.change(found, to: status ?? .allocated, work))
        }
    }

    func getVehicleTimeline(_ request: FleetV1.GetVehicleTimelineRequest, context: ServerCallContext) async throws -> FleetV1.GetVehicleTimelineResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.vehicleId, "vehicleId")
        let window = check.period(request.period, "period")
        try check.finish()
        let page = try Page(request.page, maximum: 500)
        let after = try page.timeCursor()
        return try await fleet.read(context) { work in
            guard let vehicle = try await VehicleStore.get(id, work), FleetAccess.reaches(caller, vehicle.organizationId) else {
                throw DomainError.notFound("vehicle")
            }
            let rows = try await AvailabilityStore.timeline(id, window, includeReleased: request.includeReleased, after: after, limit: page.fetch, work)
            let (records, next) = page.cut(rows) { [$0.period?.start?.cursorText ?? "0", $0.id] }
            return FleetV1.GetVehicleTimelineResponse(records: records, page: next)
        }
    }
}
