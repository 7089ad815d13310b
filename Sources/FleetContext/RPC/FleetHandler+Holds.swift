import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC

/// Suspensions and manual blocks.
extension FleetHandler {
    func suspendVehicle(_ request: FleetV1.SuspendVehicleRequest, context: ServerCallContext) async throws -> FleetV1.SuspendVehicleResponse {
        var check = Validation()
        let id = check.uuid(request.vehicleId, "vehicleId")
        let reason = check.known(request.reason, "reason", as: SuspensionReason.self)
        let period = check.openPeriod(request.period, "period")
        let notes = check.optionalText(request.notes, "notes", maximumLength: 2000)
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let invocation = try Invocation(context, fingerprint: request)
        guard reason.mayBeChosen(by: invocation.caller) else {
            throw RPCError.invalidArgument([.init(field: "reason", code: "NOT_ALLOWED", description: "owners suspend with VENDOR_REQUEST")])
        }
        let opening = SuspensionOpening(reason: reason, period: period, notes: notes)
        let outcome = try await fleet.suspendVehicle(id, opening, expectedVersion: version, invocation)
        return FleetV1.SuspendVehicleResponse(suspension: outcome.suspension.message, vehicle: outcome.vehicle.message)
    }

    func liftSuspension(_ request: FleetV1.LiftSuspensionRequest, context: ServerCallContext) async throws -> FleetV1.LiftSuspensionResponse {
        var check = Validation()
        let id = check.uuid(request.suspensionId, "suspensionId")
        let notes = check.optionalText(request.notes, "notes", maximumLength: 2000)
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let outcome = try await fleet.liftSuspension(id, notes: notes, expectedVersion: version, Invocation(context, fingerprint: request))
        return FleetV1.LiftSuspensionResponse(suspension: outcome.suspension.message, vehicle: outcome.vehicle.message)
    }

    func listSuspensions(_ request: FleetV1.ListSuspensionsRequest, context: ServerCallContext) async throws -> FleetV1.ListSuspensionsResponse {
        let (vehicle, page) = try vehicleHistoryPage(request.vehicleId, request.page, list: "fleet.suspensions")
        let rows = try await fleet.suspensions(
            of: vehicle, includeLifted: request.includeLifted, page: page, Invocation(context, fingerprint: request)
        )
        let (suspensions, next) = page.cut(rows) { TimeKey($0.createdAt, $0.id) }
        return FleetV1.ListSuspensionsResponse(suspensions: suspensions.map(\.message), page: next)
    }

    func placeBlock(_ request: FleetV1.PlaceBlockRequest, context: ServerCallContext) async throws -> FleetV1.PlaceBlockResponse {
        var check = Validation()
        let id = check.uuid(request.vehicleId, "vehicleId")
        let period = check.period(request.period, "period")
        let reason = check.text(request.reason, "reason", maximumLength: 500)
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let block = try await fleet.placeBlock(
            vehicle: id, period: period, reason: reason, expectedVersion: version, Invocation(context, fingerprint: request)
        )
        return FleetV1.PlaceBlockResponse(block: block.message)
    }

    func removeBlock(_ request: FleetV1.RemoveBlockRequest, context: ServerCallContext) async throws -> FleetV1.RemoveBlockResponse {
        var check = Validation()
        let id = check.uuid(request.blockId, "blockId")
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let block = try await fleet.removeBlock(id, expectedVersion: version, Invocation(context, fingerprint: request))
        return FleetV1.RemoveBlockResponse(block: block.message)
    }

    func listBlocks(_ request: FleetV1.ListBlocksRequest, context: ServerCallContext) async throws -> FleetV1.ListBlocksResponse {
        let (vehicle, page) = try vehicleHistoryPage(request.vehicleId, request.page, list: "fleet.blocks")
        let rows = try await fleet.blocks(of: vehicle, includeRemoved: request.includeRemoved, page: page, Invocation(context, fingerprint: request))
        let (blocks, next) = page.cut(rows) { TimeKey($0.createdAt, $0.id) }
        return FleetV1.ListBlocksResponse(blocks: blocks.map(\.message), page: next)
    }

    /// A per-vehicle history list's inputs: the vehicle and the page (by creation, 200 at most).
    func vehicleHistoryPage(_ vehicleID: String, _ page: CommonV1.PageRequest?, list: String) throws(RPCError) -> (UUID, Page<TimeKey>) {
        var check = Validation()
        let id = check.uuid(vehicleID, "vehicleId")
        try check.finish()
        return (id, try Page<TimeKey>(page, list: list, tokens: pages, maximum: 200))
    }
}
