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

/// Fleet answers the kernel's ``VehicleDocumentDirectory`` port: which vehicle (and so which
/// tenant) a document belongs to, and its kind, for Verification's submissions.
extension Fleet: VehicleDocumentDirectory {
    public nonisolated func documentFacts(_ id: UUID, on work: UnitOfWork) async throws -> VehicleDocumentFacts? {
        guard let document = try await DocumentStore.get(id, work) else { return nil }
        return VehicleDocumentFacts(
            id: document.id, vehicleID: document.vehicleID, ownerOrganizationID: document.organizationID,
            kind: VehicleDocumentFacts.Kind(rawValue: document.type.rawValue) ?? .other
        )
    }
}
