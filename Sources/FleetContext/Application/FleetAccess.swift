import Foundation
import KaroKarKernel

/// Tenancy against the stores (the rules are ``FleetTenancy``'s and ``Caller/reaches(_:)``): what
/// a caller may not reach answers NOT_FOUND, so existence does not leak. Reactions and sweeps
/// pass ``Caller/system``, which reaches every tenant.
enum FleetAccess {
    /// The vehicle, locked for the unit of work, if the caller reaches it as owner (or acts
    /// across tenants); ABORTED / `STALE_VERSION` when `expectedVersion` is not its version.
    static func ownedVehicle(_ id: UUID, _ caller: Caller, expectedVersion: Int64? = nil, _ work: UnitOfWork) async throws -> Vehicle {
        guard let vehicle = try await VehicleStore.lock(id, work), caller.reaches(vehicle.organizationID) else {
            throw DomainError.notFound("vehicle")
        }
        try ExpectedVersion.check(expectedVersion, vehicle.version, "vehicle")
        return vehicle
    }

    /// The vehicle, for reading: owners, platform administrators, and corporates for an ACTIVE
    /// vendor listing of an ACTIVE vendor.
    static func visibleVehicle(_ id: UUID, _ caller: Caller, _ work: UnitOfWork) async throws -> Vehicle {
        guard let vehicle = try await VehicleStore.get(id, work) else { throw DomainError.notFound("vehicle") }
        if caller.reaches(vehicle.organizationID) { return vehicle }
        guard FleetTenancy.mayBrowse(vehicle, as: caller), let owner = try await VehicleStore.owner(vehicle.organizationID, work), owner.isActive
        else { throw DomainError.notFound("vehicle") }
        return vehicle
    }

    /// The vehicle, for reading its operational history (timeline, maintenance, suspensions,
    /// blocks, documents): its owner and platform administrators only.
    static func historyOf(_ id: UUID, _ caller: Caller, _ work: UnitOfWork) async throws -> Vehicle {
        guard let vehicle = try await VehicleStore.get(id, work), caller.reaches(vehicle.organizationID) else {
            throw DomainError.notFound("vehicle")
        }
        return vehicle
    }
}

extension Fleet {
    /// A use case that changes one vehicle the caller owns: one idempotent transaction, the
    /// vehicle locked and its `expectedVersion` checked before `body` runs.
    nonisolated func changing<Result: Codable & Sendable>(
        vehicle id: UUID, expectedVersion: Int64?, _ invocation: Invocation, _ body: (Vehicle, UnitOfWork) async throws -> Result
    ) async throws -> Result {
        try await bus.mutation(invocation) { work in
            let vehicle = try await FleetAccess.ownedVehicle(id, invocation.caller, expectedVersion: expectedVersion, work)
            return try await body(vehicle, work)
        }
    }
}

extension UnitOfWork {
    /// Who acts, for `created_by` columns: the principal's id, or `system`.
    var actorID: String {
        origin.actor.id.isEmpty ? "system" : origin.actor.id
    }
}
