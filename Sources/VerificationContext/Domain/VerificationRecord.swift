import Foundation
import KaroKarKernel

/// What is being verified (DOMAIN.md section 8). Stored as these names.
enum SubjectType: String, Sendable, Hashable, CaseIterable, Codable {
    case organization = "ORGANIZATION"
    case user = "USER"
    case vehicle = "VEHICLE"
    case vehicleDocument = "VEHICLE_DOCUMENT"
}

/// Which fact is being verified.
enum VerificationType: String, Sendable, Hashable, CaseIterable, Codable {
    case businessRegistration = "BUSINESS_REGISTRATION"
    case authorizedRepresentative = "AUTHORIZED_REPRESENTATIVE"
    case identity = "IDENTITY"
    case drivingLicense = "DRIVING_LICENSE"
    case vehicleRegistration = "VEHICLE_REGISTRATION"
    case insurance = "INSURANCE"
    case fitnessCertificate = "FITNESS_CERTIFICATE"

    /// The subjects a fact can be about: an organization's registration and representative, a
    /// person's identity, licence (and being an organization's representative), a vehicle's
    /// registration, insurance and fitness certificate (of the vehicle, or of one of its documents).
    var subjects: Set<SubjectType> {
        switch self {
        case .businessRegistration: [.organization]
        case .authorizedRepresentative: [.organization, .user]
        case .identity, .drivingLicense: [.user]
        case .vehicleRegistration, .insurance, .fitnessCertificate: [.vehicle, .vehicleDocument]
        }
    }

    /// The vehicle document kind a VEHICLE_DOCUMENT subject of this type must be.
    var documentKind: VehicleDocumentFacts.Kind? {
        switch self {
        case .vehicleRegistration: .registration
        case .insurance: .insurance
        case .fitnessCertificate: .fitnessCertificate
        default: nil
        }
    }
}

/// Who decides.
enum VerificationMethod: String, Sendable, Hashable, CaseIterable, Codable {
    /// A platform administrator reviews.
    case manual = "MANUAL"
    /// A configured provider decides (a platform administrator may still decide first).
    case external = "EXTERNAL"
}

/// One attempt to establish trust in a subject: never a flag, always a record with its history.
struct VerificationRecord: Sendable, Hashable, Codable {
    var id: UUID
    var subjectType: SubjectType
    var subjectID: UUID
    /// The tenant the subject belongs to (the submitter's organization).
    var organizationID: UUID
    var type: VerificationType
    var method: VerificationMethod
    /// The external provider's configured name; nil for MANUAL.
    var provider: String?
    /// The provider's own reference for the check.
    var providerReference: String?
    var status: VerificationStatus
    var documentRefs: [String]
    var submittedBy: String
    var submittedAt: Instant
    var reviewedBy: String?
    var reviewedAt: Instant?
    var expiresAt: Instant?
    var notes: String
    var reviewNotes: String?
    var version: Int64
    var updatedAt: Instant
}

/// One step of a record's history (the submission, then each decision).
struct VerificationDecision: Sendable, Hashable, Codable {
    var status: VerificationStatus
    var decidedBy: String
    var decidedAt: Instant
    var notes: String
    var expiresAt: Instant?
}

/// A record and its history, as GetVerification answers.
struct VerificationDetail: Sendable, Hashable, Codable {
    var record: VerificationRecord
    var history: [VerificationDecision]
}

/// A submission, validated at the edge.
struct Submission: Sendable, Hashable {
    var subjectType: SubjectType
    var subjectID: UUID
    var type: VerificationType
    var method: VerificationMethod
    var provider: String?
    var documentRefs: [String]
    var expiresAt: Instant?
    var notes: String
}

/// The filters of ListVerifications.
struct VerificationFilter: Sendable, Hashable {
    var subjectType: SubjectType?
    var subjectID: UUID?
    var type: VerificationType?
    var statuses: [VerificationStatus]
    /// Nil: the caller's own organization (platform administrators: every organization).
    var organization: UUID?
}
