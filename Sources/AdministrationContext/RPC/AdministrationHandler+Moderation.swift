import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC

/// Moderation verbs and their log.
extension AdministrationHandler {
    /// Fleet applies vehicle moderation in the publishing transaction: if it cannot (unknown
    /// vehicle, stale version, a conflicting record), the verb fails and nothing is logged.
    func suspendVehicle(
        _ request: AdministrationV1.SuspendVehicleRequest, context: ServerCallContext
    ) async throws -> AdministrationV1.SuspendVehicleResponse {
        let caller = try platformCaller(context)
        var check = Validation()
        let vehicle = check.uuid(request.vehicleId, "vehicleId")
        // No period: from now on, until lifted.
        let period = request.period ?? CommonV1.OpenPeriod(start: CommonV1.Timestamp(seconds: Int64(Date().timeIntervalSince1970)))
        _ = check.openPeriod(period, "period")
        let notes = check.text(request.notes, "notes", maximumLength: 2000)
        try check.finish()
        return try await Idempotency.mutation(context, request: request, bus: service.bus, origin: EventOrigin(call: context)) { work in
            let action = try await service.moderateVehicle(.suspendVehicle, vehicle, notes: notes, caller: caller, on: work) { id in
                .vehicleSuspensionRequested(EventsV1.VehicleSuspensionRequested(
                    moderationActionId: id, vehicleId: request.vehicleId, period: period, notes: notes,
                    expectedVersion: request.expectedVersion
                ))
            }
            return AdministrationV1.SuspendVehicleResponse(action: action.message)
        }
    }

    func blockVehicle(
        _ request: AdministrationV1.BlockVehicleRequest, context: ServerCallContext
    ) async throws -> AdministrationV1.BlockVehicleResponse {
        let caller = try platformCaller(context)
        var check = Validation()
        let vehicle = check.uuid(request.vehicleId, "vehicleId")
        _ = check.period(request.period, "period")
        let reason = check.text(request.reason, "reason", maximumLength: 500)
        try check.finish()
        return try await Idempotency.mutation(context, request: request, bus: service.bus, origin: EventOrigin(call: context)) { work in
            let action = try await service.moderateVehicle(.blockVehicle, vehicle, notes: reason, caller: caller, on: work) { id in
                .vehicleBlockRequested(EventsV1.VehicleBlockRequested(
                    moderationActionId: id, vehicleId: request.vehicleId, period: request.period, reason: reason,
                    expectedVersion: request.expectedVersion
                ))
            }
            return AdministrationV1.BlockVehicleResponse(action: action.message)
        }
    }

    func terminateBooking(
        _ request: AdministrationV1.TerminateBookingRequest, context: ServerCallContext
    ) async throws -> AdministrationV1.TerminateBookingResponse {
        _ = try platformCaller(context)
        throw Self.missing("Booking", verb: "TerminateBooking")
    }

    static func missing(_ context: String, verb: String) -> RPCError {
        RPCError(
            .unimplemented, "\(verb) needs the \(context) context, which this server does not host yet",
            domainCode: "CONTEXT_NOT_AVAILABLE"
        )
    }

    func disableUser(
        _ request: AdministrationV1.DisableUserRequest, context: ServerCallContext
    ) async throws -> AdministrationV1.DisableUserResponse {
        let caller = try platformCaller(context)
        var check = Validation()
        let user = check.uuid(request.userId, "userId")
        let reason = check.text(request.reason, "reason", maximumLength: 2000)
        if let expected = request.expectedVersion, expected.value < 1 {
            check.add("expectedVersion", "OUT_OF_RANGE", "expectedVersion must be 1 or more")
        }
        try check.finish()
        return try await Idempotency.mutation(context, request: request, bus: service.bus, origin: EventOrigin(call: context)) { work in
            let action = try await service.disableUser(user, reason: reason, expectedVersion: request.expectedVersion?.value, caller: caller, on: work)
            return AdministrationV1.DisableUserResponse(action: action.message)
        }
    }

    func listModerationActions(
        _ request: AdministrationV1.ListModerationActionsRequest, context: ServerCallContext
    ) async throws -> AdministrationV1.ListModerationActionsResponse {
        _ = try platformCaller(context)
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
        let page = try Keyset.parse(request.page)
        let rows = try await ModerationStore.list(filter, page: page, on: service.pool)
        let (kept, next) = page.page(rows) { ($0.performedAt, $0.id) }
        return AdministrationV1.ListModerationActionsResponse(actions: kept.map(\.message), page: next)
    }
}
