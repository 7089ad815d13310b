import Foundation
import KaroKarKernel

/// Whose verifications a caller sees and decides (DOMAIN.md sections 2 and 8): tenants their own
/// organization's, platform administrators (and the system) every one; what a caller may not see
/// answers NOT_FOUND, so existence does not leak.
enum VerificationTenancy {
    static func visible(_ record: VerificationRecord, _ caller: Caller) -> Bool {
        caller.reaches(record.organizationID)
    }

    /// Reviewing is the platform's: a tenant that somehow holds `verification.review` still
    /// cannot decide about anything, its own subjects least of all.
    static func checkReviewer(_ caller: Caller) throws(DomainError) {
        guard caller.actsAcrossTenants else { throw VerificationError.reviewersOnly() }
    }

    /// The organization a list is about: the caller's own unless it acts across tenants (nil:
    /// every organization). A tenant naming another organization sees nothing of it.
    static func listed(_ requested: UUID?, _ caller: Caller) -> UUID?? {
        if caller.actsAcrossTenants { return .some(requested) }
        if let requested, requested != caller.organizationID { return .none }
        return .some(caller.organizationID)
    }

    /// Who a record names as its submitter or reviewer: the principal's id, or "system".
    static func actorName(_ caller: Caller) -> String {
        caller.isSystem ? "system" : caller.principalID.lowercasedString
    }
}
