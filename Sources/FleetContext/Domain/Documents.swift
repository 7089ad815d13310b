import Foundation
import KaroKarKernel

/// The kinds of vehicle document (DOMAIN.md section 5, "Vehicle documents").
enum DocumentType: String, Sendable, CaseIterable, Codable {
    case registration = "REGISTRATION"
    case insurance = "INSURANCE"
    case fitnessCertificate = "FITNESS_CERTIFICATE"
    case other = "OTHER"

    /// Compliance documents need an expiry; their expiry suspends the vehicle with this reason.
    var expirySuspension: SuspensionReason? {
        SuspensionReason.allCases.first { $0.expiredDocument == self }
    }
}

struct VehicleDocument: Sendable, Hashable, Codable {
    var id: UUID
    var vehicleID: UUID
    var organizationID: UUID
    var type: DocumentType
    var number: String
    var issuedAt: Instant
    var expiresAt: Instant?
    var fileRef: String
    var createdBy: String
    var createdAt: Instant
}

/// A document to add to a vehicle (validated: an expiry later than the issue, present for
/// compliance documents).
struct NewDocument: Sendable, Hashable {
    var vehicle: UUID
    var type: DocumentType
    var number: String
    var issuedAt: Instant
    var expiresAt: Instant?
    var fileRef: String
}

/// One expired compliance document the sweep found, and the suspension it opened (nil on a dry
/// run, or when the vehicle was not suspendable or already had that suspension open).
struct ExpiryFinding: Sendable, Hashable, Codable {
    var document: VehicleDocument
    var suspensionID: UUID?
}

struct ExpirySweepReport: Sendable, Hashable, Codable {
    var findings: [ExpiryFinding] = []
    var suspensionsOpened: UInt32 = 0
}

/// The Verification context's decisions Fleet keeps (its activation gate): the three kinds of
/// verification a vehicle needs, and what an expiry or revocation of each suspends it for.
enum VerificationType: String, Sendable, CaseIterable, Codable {
    case vehicleRegistration = "VEHICLE_REGISTRATION"
    case insurance = "INSURANCE"
    case fitnessCertificate = "FITNESS_CERTIFICATE"

    var suspensionReason: SuspensionReason {
        switch self {
        case .vehicleRegistration: .registrationExpired
        case .insurance: .insuranceExpired
        case .fitnessCertificate: .fitnessCertificateExpired
        }
    }
}

enum VerificationStatus: String, Sendable, CaseIterable, Codable {
    case approved = "APPROVED"
    case rejected = "REJECTED"
    case expired = "EXPIRED"
    case revoked = "REVOKED"

    /// An expired or revoked verification suspends the vehicle.
    var suspends: Bool { self == .expired || self == .revoked }
}
