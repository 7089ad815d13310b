import KaroKarKernel

/// The Verification context's stable domain codes (Protos/PROTOCOL.md, section 7.5).
enum VerificationError {
    static func invalidTransition(_ status: VerificationStatus, _ command: VerificationCommand) -> DomainError {
        .failedPrecondition(
            "INVALID_VERIFICATION_TRANSITION", "a verification that is \(status.rawValue) cannot be given \(command.rawValue)"
        )
    }

    static func alreadyPending() -> DomainError {
        .alreadyExists("VERIFICATION_ALREADY_PENDING", "a verification of this type is already pending for this subject")
    }

    static func subjectNotFound() -> DomainError {
        .notFound("verification subject")
    }

    static func notFound() -> DomainError {
        .notFound("verification")
    }

    static func expiryPassed() -> DomainError {
        .failedPrecondition("VERIFICATION_EXPIRY_PASSED", "the expiry must be later than now")
    }

    static func reviewersOnly() -> DomainError {
        .permissionDenied("only platform administrators review verifications")
    }
}
