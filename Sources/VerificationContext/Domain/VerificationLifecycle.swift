import KaroKarKernel

/// Where a verification stands (DOMAIN.md section 8). Stored as these names.
enum VerificationStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case pending = "PENDING"
    case approved = "APPROVED"
    case rejected = "REJECTED"
    case expired = "EXPIRED"
    case revoked = "REVOKED"
}

/// What can be asked of a verification: each business verb is one command.
enum VerificationCommand: String, Sendable, Hashable, CaseIterable, Codable {
    case approve
    case reject
    case revoke
    case expire

    /// The event the transition publishes.
    var eventType: String {
        switch self {
        case .approve: "verification.approved"
        case .reject: "verification.rejected"
        case .revoke: "verification.revoked"
        case .expire: "verification.expired"
        }
    }
}

/// The transition table, and nothing else: a pure function of (state, command).
///
/// | from | to |
/// |---|---|
/// | PENDING | APPROVED, REJECTED |
/// | APPROVED | EXPIRED, REVOKED |
/// | REJECTED, EXPIRED, REVOKED | — (terminal: a new submission starts a new record) |
enum VerificationStateMachine {
    static func next(from status: VerificationStatus, _ command: VerificationCommand) -> VerificationStatus? {
        switch (status, command) {
        case (.pending, .approve): .approved
        case (.pending, .reject): .rejected
        case (.approved, .revoke): .revoked
        case (.approved, .expire): .expired
        default: nil
        }
    }

    /// The status after `command`, or FAILED_PRECONDITION / `INVALID_VERIFICATION_TRANSITION`.
    static func checked(from status: VerificationStatus, _ command: VerificationCommand) throws(DomainError) -> VerificationStatus {
        guard let next = next(from: status, command) else {
            throw VerificationError.invalidTransition(status, command)
        }
        return next
    }
}
