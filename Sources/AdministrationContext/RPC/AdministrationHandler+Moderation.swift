import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC

/// Moderation verbs and their log.
extension AdministrationHandler {
    func suspendVehicle(
        _ request: AdministrationV1.SuspendVehicleRequest, context: ServerCallContext
    ) async throws -> AdministrationV1.SuspendVehicleResponse {
        var check = Validation()
        let vehicle = check.uuid(request.vehicleId, "vehicleId")
        // No period: from now on, until lifted.
        let period = request.period.map { check.openPeriod($0, "period") }
        let notes = check.text(request.notes, "notes", maximumLength: 2000)
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let action = try await administration.suspendVehicle(
            vehicle, period: period, notes: notes, expectedVersion: version, Invocation(context, fingerprint: request)
        )
        return AdministrationV1.SuspendVehicleResponse(action: action.message)
    }

    func blockVehicle(
        _ request: AdministrationV1.BlockVehicleRequest, context: ServerCallContext
    ) async throws -> AdministrationV1.BlockVehicleResponse {
        var check = Validation()
        let vehicle = check.uuid(request.vehicleId, "vehicleId")
        let period = check.period(request.period, "period")
        let reason = check.text(request.reason, "reason", maximumLength: 500)
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let action = try await administration.blockVehicle(
            vehicle, period: period, reason: reason, expectedVersion: version, Invocation(context, fingerprint: request)
        )
        return AdministrationV1.BlockVehicleResponse(action: action.message)
    }

    func terminateBooking(
        _ request: AdministrationV1.TerminateBookingRequest, context: ServerCallContext
    ) async throws -> AdministrationV1.TerminateBookingResponse {
        var check = Validation()
        let booking = check.uuid(request.bookingId, "bookingId")
        let notes = check.text(request.notes, "notes", maximumLength: 2000)
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let action = try await administration.terminateBooking(
            booking, notes: notes, expectedVersion: version, Invocation(context, fingerprint: request)
        )
        return AdministrationV1.TerminateBookingResponse(action: action.message)
    }

    func disableUser(
        _ request: AdministrationV1.DisableUserRequest, context: ServerCallContext
    ) async throws -> AdministrationV1.DisableUserResponse {
        var check = Validation()
        let user = check.uuid(request.userId, "userId")
        let reason = check.text(request.reason, "reason", maximumLength: 2000)
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let action = try await administration.disableUser(user, reason: reason, expectedVersion: version, Invocation(context, fingerprint: request))
        return AdministrationV1.DisableUserResponse(action: action.message)
    }

    func listModerationActions(
        _ request: AdministrationV1.ListModerationActionsRequest, context: ServerCallContext
    ) async throws -> AdministrationV1.ListModerationActionsResponse {
        var check = Validation()
        var filter = ModerationStore.Filter()
        if !request.actionType.isProtoDefault {
            filter.type = ModerationActionType(check.known(request.actionType, "actionType"))
        }
        filter.target = request.targetId.map { check.uuid($0.value, "targetId.value") }
        filter.after = request.performedAfter.map { check.instant($0, "performedAfter") }
        filter.before = request.performedBefore.map { check.instant($0, "performedBefore") }
        if let after = filter.after, let before = filter.before, before <= after {
            check.add("performedBefore", "OUT_OF_RANGE", "performedBefore must be later than performedAfter")
        }
        try check.finish()
        let page = try Page<TimeKey>(request.page, list: "administration.moderation_actions", tokens: pages)
        let rows = try await administration.moderationActions(filter, page: page, Invocation(context, fingerprint: request))
        let (kept, next) = page.cut(rows) { TimeKey($0.performedAt, $0.id) }
        return AdministrationV1.ListModerationActionsResponse(actions: kept.map(\.message), page: next)
    }
}
