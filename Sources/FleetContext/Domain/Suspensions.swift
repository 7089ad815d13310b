import Foundation
import KaroKarKernel

/// Why a vehicle is suspended (DOMAIN.md section 5).
enum SuspensionReason: String, Sendable, CaseIterable, Codable {
    case insuranceExpired = "INSURANCE_EXPIRED"
    case registrationExpired = "REGISTRATION_EXPIRED"
    case fitnessCertificateExpired = "FITNESS_CERTIFICATE_EXPIRED"
    case adminAction = "ADMIN_ACTION"
    case vendorRequest = "VENDOR_REQUEST"

    /// The compliance document whose expiry the reason stands for.
    var expiredDocument: DocumentType? {
        switch self {
        case .registrationExpired: .registration
        case .insuranceExpired: .insurance
        case .fitnessCertificateExpired: .fitnessCertificate
        case .adminAction, .vendorRequest: nil
        }
    }

    /// Owners suspend with VENDOR_REQUEST; ADMIN_ACTION is for platform administrators, and the
    /// expiry reasons come from the document sweep and from verifications.
    func mayBeChosen(by caller: Caller) -> Bool {
        self == .vendorRequest || caller.actsAcrossTenants
    }
}

/// A compliance hold on a vehicle, holding it through one SUSPENDED record; an open end is an
/// indefinite suspension.
struct Suspension: Sendable, Hashable, Codable {
    var id: UUID
    var vehicleID: UUID
    var organizationID: UUID
    var reason: SuspensionReason
    var period: Period
    var notes: String?
    var availabilityRecordID: UUID
    /// The expired document that caused it (the sweep's suspensions).
    var documentID: UUID?
    var createdBy: String
    var createdAt: Instant
    var liftedAt: Instant?
    var liftedBy: String?
    var version: Int64

    /// Who may lift what: an administrator's hold only platform administrators (and the
    /// system); an expiry hold once the vehicle has a valid document again (its caller checks).
    func checkLiftable(by caller: Caller) throws(DomainError) {
        guard liftedAt == nil else {
            throw DomainError.failedPrecondition("SUSPENSION_ALREADY_LIFTED", "the suspension was already lifted")
        }
        if reason == .adminAction, !caller.actsAcrossTenants {
            throw DomainError.permissionDenied("only platform administrators lift an administrator's suspension")
        }
    }
}

/// What opening a suspension needs, and what caused it (copied into `vehicle.suspended`).
struct SuspensionOpening: Sendable, Hashable {
    var reason: SuspensionReason
    var period: Period
    var notes: String?
    var document: UUID?
    var verification: UUID?
    var moderationAction: UUID?
}

/// A suspension opened or lifted, and its vehicle afterwards.
struct SuspensionOutcome: Sendable, Hashable, Codable {
    var suspension: Suspension
    var vehicle: Vehicle
}

/// An operational block (BLOCKED / MANUAL_BLOCK) over a closed period.
struct Block: Sendable, Hashable, Codable {
    var id: UUID
    var vehicleID: UUID
    var organizationID: UUID
    var period: Period
    var reason: String
    var availabilityRecordID: UUID
    var createdBy: String
    var createdAt: Instant
    var removedAt: Instant?
    var removedBy: String?
    var version: Int64
    /// Placed by a platform administrator (moderation): theirs to remove, not the owner's.
    var placedByPlatform: Bool

    func checkRemovable() throws(DomainError) {
        guard removedAt == nil else {
            throw DomainError.failedPrecondition("BLOCK_ALREADY_REMOVED", "the block was already removed")
        }
    }

    /// Who may remove it: a platform's block only platform administrators (and the system), as
    /// an administrator's suspension.
    func checkRemovable(by caller: Caller) throws(DomainError) {
        try checkRemovable()
        if placedByPlatform, !caller.actsAcrossTenants {
            throw DomainError.permissionDenied("only platform administrators remove a block the platform placed")
        }
    }
}
