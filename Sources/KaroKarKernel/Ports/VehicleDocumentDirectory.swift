public import Foundation

/// What the Fleet context tells other contexts about one vehicle document, read inside their own
/// transaction: a query port, so Verification never imports Fleet nor reads its tables. Fleet
/// implements it; the composition root passes the implementation to the contexts that need it.
public protocol VehicleDocumentDirectory: Sendable {
    /// The document's facts as `work`'s transaction sees them; nil when there is no such document.
    func documentFacts(_ document: UUID, on work: UnitOfWork) async throws -> VehicleDocumentFacts?
}

/// The facts a verification of a vehicle document needs.
public struct VehicleDocumentFacts: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case registration = "REGISTRATION"
        case insurance = "INSURANCE"
        case fitnessCertificate = "FITNESS_CERTIFICATE"
        case other = "OTHER"
    }

    public let id: UUID
    public let vehicleID: UUID
    /// The vehicle's owner: the tenant the document belongs to.
    public let ownerOrganizationID: UUID
    public let kind: Kind

    public init(id: UUID, vehicleID: UUID, ownerOrganizationID: UUID, kind: Kind) {
        self.id = id
        self.vehicleID = vehicleID
        self.ownerOrganizationID = ownerOrganizationID
        self.kind = kind
    }
}
