import KaroKarKernel

/// The Fleet context's stable domain codes and the errors that carry them.
enum FleetError {
    static func vehicleNotAvailable() -> DomainError {
        // No detail about whose record is in the way (issue 5, item 3).
        .failedPrecondition("VEHICLE_NOT_AVAILABLE", "the vehicle is not available for that period")
    }

    static func duplicatePlate() -> DomainError {
        .alreadyExists("DUPLICATE_LICENSE_PLATE", "a vehicle with this license plate is already registered")
    }

    static func ownerNotActive() -> DomainError {
        .failedPrecondition("ORGANIZATION_NOT_ACTIVE", "the owning organization is not active")
    }

    static func ownershipMismatch() -> DomainError {
        .failedPrecondition("OWNERSHIP_TYPE_MISMATCH", "vendors own VENDOR_OWNED vehicles and corporates CORPORATE_OWNED ones")
    }

    static func invalidTransition(_ what: String, from: String, action: String) -> DomainError {
        .failedPrecondition("INVALID_\(what)_TRANSITION", "cannot \(action) a \(what.lowercased()) that is \(from)")
    }

    static func vehicleInUse() -> DomainError {
        .failedPrecondition("VEHICLE_IN_USE", "the vehicle has open reservations or allocations")
    }

    static func verificationRequired() -> DomainError {
        .failedPrecondition("VERIFICATION_REQUIRED", "activation needs approved, unexpired registration, insurance and fitness verifications")
    }

    static func notActive() -> DomainError {
        .failedPrecondition("VEHICLE_NOT_ACTIVE", "only active or suspended vehicles can be suspended")
    }

    static func documentExpired(_ type: DocumentType) -> DomainError {
        .failedPrecondition("DOCUMENT_EXPIRED", "add a valid \(type.rawValue.lowercased()) document before lifting this suspension")
    }
}
