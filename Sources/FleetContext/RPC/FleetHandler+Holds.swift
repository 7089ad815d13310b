import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC

extension FleetHandler {
    func suspendVehicle(_ request: FleetV1.SuspendVehicleRequest, context: ServerCallContext) async throws -> FleetV1.SuspendVehicleResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.vehicleId, "vehicleId")
        let reason = check.known(request.reason, "reason")
        let period = check.openPeriod(request.period, "period")
        let notes = request.notes.map { check.text($0.value, "notes", maximumLength: 2000, required: false) }
        try check.finish()
        guard reason == .vendorRequest || caller.actsAcrossTenants else {
            // Expiry reasons come from the sweep and verifications; ADMIN_ACTION from administrators.
            throw RPCError.invalidArgument([.init(field: "reason", code: "NOT_ALLOWED", description: "owners suspend with VENDOR_REQUEST")])
        }
        return try await fleet.mutation(context, request) { work in
            let vehicle = try await FleetAccess.ownedVehicle(id, caller, work)
            try ExpectedVersion.check(request.expectedVersion, vehicle.version, "vehicle")
            let (suspension, updated) = try await SuspensionOperations.open(vehicle, .init(reason: reason, period: period, notes: notes), work)
            return FleetV1.SuspendVehicleResponse(suspension: suspension, vehicle: updated)
        }
    }

    func liftSuspension(_ request: FleetV1.LiftSuspensionRequest, context: ServerCallContext) async throws -> FleetV1.LiftSuspensionResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.suspensionId, "suspensionId")
        let notes = request.notes.map { check.text($0.value, "notes", maximumLength: 2000, required: false) }
        try check.finish()
        return try await fleet.mutation(context, request) { work in
            guard let found = try await SuspensionStore.lock(id, work), FleetAccess.reaches(caller, found.organizationId) else {
                throw DomainError.notFound("suspension")
            }
            let vehicle = try await FleetAccess.ownedVehicle(UUID(hyphenated: found.vehicleId)!, caller, work)
            try ExpectedVersion.check(request.expectedVersion, found.version, "suspension")
            try await SuspensionOperations.checkLift(found, caller: caller, work)
            let (suspension, updated) = try await SuspensionOperations.lift(found, vehicle: vehicle, notes: notes, work)
            return FleetV1.LiftSuspensionResponse(suspension: suspension, vehicle: updated)
        }
    }

    func listSuspensions(_ request: FleetV1.ListSuspensionsRequest, context: ServerCallContext) async throws -> FleetV1.ListSuspensionsResponse {
        let (vehicleID, page, after) = try vehicleList(request.vehicleId, request.page)
        let caller = try context.requireCaller()
        return try await fleet.read(context) { work in
            try await ownedForReading(vehicleID, caller, work)
            let rows = try await SuspensionStore.list(vehicle: vehicleID, includeLifted: request.includeLifted, after: after, limit: page.fetch, work)
            let (suspensions, next) = page.cut(rows) { [$0.createdAt?.cursorText ?? "0", $0.id] }
            return FleetV1.ListSuspensionsResponse(suspensions: suspensions, page: next)
        }
    }

    func placeBlock(_ request: FleetV1.PlaceBlockRequest, context: ServerCallContext) async throws -> FleetV1.PlaceBlockResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.vehicleId, "vehicleId")
        let period = check.period(request.period, "period")
        let reason = check.text(request.reason, "reason", maximumLength: 500)
        try check.finish()
        return try await fleet.mutation(context, request) { work in
            let vehicle = try await FleetAccess.ownedVehicle(id, caller, work)
            try ExpectedVersion.check(request.expectedVersion, vehicle.version, "vehicle")
            return FleetV1.PlaceBlockResponse(block: try await HoldOperations.placeBlock(vehicle, period: period, reason: reason, work))
        }
    }

    func removeBlock(_ request: FleetV1.RemoveBlockRequest, context: ServerCallContext) async throws -> FleetV1.RemoveBlockResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.blockId, "blockId")
        try check.finish()
        return try await fleet.mutation(context, request) { work in
            guard let block = try await BlockStore.lock(id, work), FleetAccess.reaches(caller, block.organizationId) else {
                throw DomainError.notFound("block")
            }
            _ = try await FleetAccess.ownedVehicle(UUID(hyphenated: block.vehicleId)!, caller, work)
            try ExpectedVersion.check(request.expectedVersion, block.version, "block")
            return FleetV1.RemoveBlockResponse(block: try await HoldOperations.removeBlock(block, work))
        }
    }

    func listBlocks(_ request: FleetV1.ListBlocksRequest, context: ServerCallContext) async throws -> FleetV1.ListBlocksResponse {
        let (vehicleID, page, after) = try vehicleList(request.vehicleId, request.page)
        let caller = try context.requireCaller()
        return try await fleet.read(context) { work in
            try await ownedForReading(vehicleID, caller, work)
            let rows = try await BlockStore.list(vehicle: vehicleID, includeRemoved: request.includeRemoved, after: after, limit: page.fetch, work)
            let (blocks, next) = page.cut(rows) { [$0.createdAt?.cursorText ?? "0", $0.id] }
            return FleetV1.ListBlocksResponse(blocks: blocks, page: next)
        }
    }

    /// A per-vehicle list's inputs: the vehicle id, the page and its (instant, id) cursor.
    func vehicleList(_ vehicleID: String, _ page: CommonV1.PageRequest?) throws(RPCError) -> (UUID, Page, (PostgresTimestamp, UUID)?) {
        var check = Validation()
        let id = check.uuid(vehicleID, "vehicleId")
        try check.finish()
        let page = try Page(page)
        return (id, page, try page.timeCursor())
    }

    /// A vehicle's operational history is for its owner and platform administrators only.
    func ownedForReading(_ id: UUID, _ caller: Caller, _ work: UnitOfWork) async throws {
        guard let vehicle = try await VehicleStore.get(id, work), FleetAccess.reaches(caller, vehicle.organizationId) else {
            throw DomainError.notFound("vehicle")
        }
    }
}
