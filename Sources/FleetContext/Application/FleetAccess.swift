import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres

/// Who reaches which vehicle (DOMAIN.md section 2, "Tenancy"): owners and platform
/// administrators change and fully read a vehicle; corporates may read a vendor's listing that
/// search would show them. Everything else answers NOT_FOUND, so existence does not leak.
/// A nil caller is the system itself (reactions, sweeps), which reaches everything.
enum FleetAccess {
    /// The vehicle, locked for the unit of work, if the caller reaches it as owner.
    static func ownedVehicle(_ id: UUID, _ caller: Caller?, _ work: UnitOfWork) async throws -> FleetV1.Vehicle {
        guard let vehicle = try await VehicleStore.lock(id, work), reaches(caller, vehicle.organizationId) else {
            throw DomainError.notFound("vehicle")
        }
        return vehicle
    }

    /// The vehicle, for reading: owners, platform administrators, and corporates for an ACTIVE
    /// vendor listing of an ACTIVE vendor.
    static func visibleVehicle(_ id: UUID, _ caller: Caller?, _ work: UnitOfWork) async throws -> FleetV1.Vehicle {
        guard let vehicle = try await VehicleStore.get(id, work) else { throw DomainError.notFound("vehicle") }
        if reaches(caller, vehicle.organizationId) { return vehicle }
        guard let caller, caller.organizationKind == .corporate, vehicle.status == .active, vehicle.ownershipType == .vendorOwned,
              let owner = try await VehicleStore.owner(UUID(hyphenated: vehicle.organizationId)!, work), owner.isActive
        else { throw DomainError.notFound("vehicle") }
        return vehicle
    }

    static func reaches(_ caller: Caller?, _ organization: String) -> Bool {
        guard let caller else { return true }
        return caller.actsAcrossTenants || caller.organizationID.postgresText == organization
    }

    /// The organization a list is about: the caller's, or (platform administrators only) any.
    static func listedOrganization(_ requested: UUID?, _ caller: Caller) throws(DomainError) -> UUID {
        guard let requested, requested != caller.organizationID else { return caller.organizationID }
        guard caller.actsAcrossTenants else { throw DomainError.notFound("organization") }
        return requested
    }
}
