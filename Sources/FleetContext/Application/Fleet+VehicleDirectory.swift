public import Foundation
public import KaroKarKernel

/// Fleet answers the kernel's ``VehicleDirectory`` port: what Booking and Assignment need to know
/// about a vehicle (owner, ownership, status, whether the owner is ACTIVE), read in their own
/// transaction. No tenancy here: the asking context decides what its caller may learn.
extension Fleet: VehicleDirectory {
    public nonisolated func bookingFacts(_ id: UUID, on work: UnitOfWork) async throws -> VehicleFacts? {
        guard let vehicle = try await VehicleStore.get(id, work) else { return nil }
        let owner = try await VehicleStore.owner(vehicle.organizationID, work)
        return VehicleFacts(
            id: vehicle.id, ownerOrganizationID: vehicle.organizationID,
            ownership: vehicle.ownership == .vendorOwned ? .vendorOwned : .corporateOwned,
            status: VehicleFacts.Status(rawValue: vehicle.status.rawValue) ?? .pending, ownerIsActive: owner?.isActive ?? false
        )
    }
}
