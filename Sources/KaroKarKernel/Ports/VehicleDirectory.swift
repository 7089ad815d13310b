public import Foundation

/// What the Fleet context tells other contexts about one vehicle, read inside their own
/// transaction (Sources/README.md, "facts owned by other contexts"): a query port, so Booking and
/// Assignment never import Fleet nor read its tables. Fleet implements it; the composition root
/// passes the implementation to the contexts that need it.
public protocol VehicleDirectory: Sendable {
    /// The vehicle's facts as `work`'s transaction sees them; nil when there is no such vehicle.
    func bookingFacts(_ vehicle: UUID, on work: UnitOfWork) async throws -> VehicleFacts?
}

/// The facts a booking or an assignment needs about a vehicle.
public struct VehicleFacts: Sendable, Hashable {
    public enum Ownership: String, Sendable, Hashable {
        case vendorOwned = "VENDOR_OWNED"
        case corporateOwned = "CORPORATE_OWNED"
    }

    public enum Status: String, Sendable, Hashable {
        case pending = "PENDING"
        case active = "ACTIVE"
        case suspended = "SUSPENDED"
        case retired = "RETIRED"
    }

    public let id: UUID
    /// The owning organization (the vendor, for a vendor-owned vehicle).
    public let ownerOrganizationID: UUID
    public let ownership: Ownership
    public let status: Status
    /// Whether the owner is an `ACTIVE` organization.
    public let ownerIsActive: Bool

    public init(id: UUID, ownerOrganizationID: UUID, ownership: Ownership, status: Status, ownerIsActive: Bool) {
        self.id = id
        self.ownerOrganizationID = ownerOrganizationID
        self.ownership = ownership
        self.status = status
        self.ownerIsActive = ownerIsActive
    }

    /// DOMAIN.md section 6: only `ACTIVE` `VENDOR_OWNED` vehicles of `ACTIVE` vendors are booked.
    public var isBookable: Bool { status == .active && ownership == .vendorOwned && ownerIsActive }
}
