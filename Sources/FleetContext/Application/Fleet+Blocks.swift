import Foundation
import KaroKarKernel

/// Manual blocks (DOMAIN.md section 5): an operational BLOCKED / MANUAL_BLOCK record over a
/// closed period, with a reason.
extension Fleet {
    /// A block over `period` on a vehicle the caller owns.
    nonisolated func placeBlock(
        vehicle id: UUID, period: Period, reason: String, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> Block {
        try await changing(vehicle: id, expectedVersion: expectedVersion, invocation) { vehicle, work in
            try await placeBlock(
                on: vehicle, period: period, reason: reason, moderationAction: nil, byPlatform: invocation.caller.actsAcrossTenants, work
            )
        }
    }

    /// Removes a block of a vehicle the caller owns (its record is released, and kept).
    nonisolated func removeBlock(_ id: UUID, expectedVersion: Int64?, _ invocation: Invocation) async throws -> Block {
        try await bus.mutation(invocation) { work in
            guard let block = try await BlockStore.lock(id, work), invocation.caller.reaches(block.organizationID) else {
                throw DomainError.notFound("block")
            }
            _ = try await FleetAccess.ownedVehicle(block.vehicleID, invocation.caller, work)
            try ExpectedVersion.check(expectedVersion, block.version, "block")
            try block.checkRemovable(by: invocation.caller)
            return try await removeBlock(block, work)
        }
    }

    /// A page of a vehicle's blocks, by creation (its owner and platform administrators).
    nonisolated func blocks(of vehicle: UUID, includeRemoved: Bool, page: Page<TimeKey>, _ invocation: Invocation) async throws -> [Block] {
        try await bus.read(invocation) { work in
            _ = try await FleetAccess.historyOf(vehicle, invocation.caller, work)
            return try await BlockStore.list(vehicle: vehicle, includeRemoved: includeRemoved, after: page.after, limit: page.fetchLimit, work)
        }
    }

    // MARK: - In a unit of work (the RPCs above, moderation, retirement)

    /// Places the block and its BLOCKED record on a locked vehicle; emits `vehicle.block_placed`.
    /// A platform's block (moderation, or a platform administrator's call) only the platform removes.
    nonisolated func placeBlock(
        on vehicle: Vehicle, period: Period, reason: String, moderationAction: UUID?, byPlatform: Bool, _ work: UnitOfWork
    ) async throws -> Block {
        try vehicle.status.checkEditable()
        let row = try await AvailabilityEngine.holdForNew(.blocked, .manualBlock, over: period, on: vehicle, work)
        let block = try await BlockStore.insert(row, reason: reason, byPlatform: byPlatform || moderationAction != nil, work)
        try await work.publish(VehicleEvents.blockPlaced(block, moderationAction: moderationAction))
        return block
    }

    /// Removes a locked block and releases its record; emits `vehicle.block_removed`.
    nonisolated func removeBlock(_ block: Block, _ work: UnitOfWork) async throws -> Block {
        try block.checkRemovable()
        let removed = try await BlockStore.remove(block.id, by: work.actorID, work)
        try await AvailabilityEngine.release(.manualBlock, block.id, work)
        try await work.publish(VehicleEvents.blockRemoved(removed))
        return removed
    }
}
