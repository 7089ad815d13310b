import Foundation
import KaroKarKernel
import KaroKarMessages

/// An event's payload as the rules and templates read it: named facts (`bookingId`,
/// `vendorOrganizationId`, `period`, `reason`, ...), all text. The one place that knows the
/// payloads' shapes; the rules (``NotificationRules``) name facts, never payload fields.
enum EventFacts {
    static func of(_ event: EventsV1.EventEnvelope) -> [String: String] {
        var facts: [String: String] = [:]
        func set(_ key: String, _ value: String?) {
            if let value, !value.isEmpty { facts[key] = value }
        }
        func flag(_ key: String, _ value: Bool) { if value { facts[key] = "true" } }
        func booking(
            _ id: String, _ vehicle: String, _ vendor: String, _ corporate: String, _ period: CommonV1.Period?, _ requestedBy: String
        ) {
            set("bookingId", id)
            set("vehicleId", vehicle)
            set("vendorOrganizationId", vendor)
            set("corporateOrganizationId", corporate)
            set("period", period.map { describe($0.start, $0.end) })
            set("requestedBy", requestedBy)
        }
        switch event.payload {
        case .bookingCreated(let p)?: booking(p.bookingId, p.vehicleId, p.vendorOrganizationId, p.corporateOrganizationId, p.period, p.requestedBy)
        case .bookingRequested(let p)?:
            booking(p.bookingId, p.vehicleId, p.vendorOrganizationId, p.corporateOrganizationId, p.period, p.requestedBy)
            flag("selfBooking", p.selfBooking)
        case .bookingApproved(let p)?:
            booking(p.bookingId, p.vehicleId, p.vendorOrganizationId, p.corporateOrganizationId, p.period, p.requestedBy)
            set("notes", p.notes?.value)
            flag("selfBooking", p.selfBooking)
        case .bookingRejected(let p)?:
            booking(p.bookingId, p.vehicleId, p.vendorOrganizationId, p.corporateOrganizationId, p.period, p.requestedBy)
            set("reason", p.reason)
        case .bookingAssigned(let p)?:
            booking(p.bookingId, p.vehicleId, p.vendorOrganizationId, p.corporateOrganizationId, p.period, p.requestedBy)
            set("employeeId", p.employeeId)
            set("assignmentId", p.assignmentId)
            flag("selfBooking", p.selfBooking)
        case .bookingActivated(let p)?: booking(p.bookingId, p.vehicleId, p.vendorOrganizationId, p.corporateOrganizationId, p.period, p.requestedBy)
        case .bookingCompleted(let p)?: booking(p.bookingId, p.vehicleId, p.vendorOrganizationId, p.corporateOrganizationId, p.period, p.requestedBy)
        case .bookingTerminated(let p)?:
            booking(p.bookingId, p.vehicleId, p.vendorOrganizationId, p.corporateOrganizationId, p.period, p.requestedBy)
            set("reason", words(p.reason))
        case .bookingCancelled(let p)?:
            booking(p.bookingId, p.vehicleId, p.vendorOrganizationId, p.corporateOrganizationId, p.period, p.requestedBy)
            set("reason", p.reason?.value)
            flag("wasRequested", p.previousStatus != .unspecified)
        case .assignmentCreated(let p)?:
            set("assignmentId", p.assignmentId)
            set("bookingId", p.bookingId?.value)
            set("vehicleId", p.vehicleId)
            set("corporateOrganizationId", p.corporateOrganizationId)
            set("employeeId", p.employeeId)
            set("period", p.period.map { describe($0.start, $0.end) })
            flag("direct", p.bookingId == nil || p.replacesAssignmentId != nil)
        case .vehicleSuspended(let p)?:
            set("vehicleId", p.vehicleId)
            set("organizationId", p.organizationId)
            set("reason", words(p.reason))
            set("notes", p.notes?.value)
            set("period", p.period.map { describe($0.start, $0.end) })
        case .organizationApproved(let p)?:
            set("organizationId", p.organizationId)
            set("applicantUserId", p.applicantUserId)
            set("notes", p.notes?.value)
        case .organizationRejected(let p)?:
            set("organizationId", p.organizationId)
            set("applicantUserId", p.applicantUserId)
            set("notes", p.notes)
        case .verificationApproved(let p)?:
            verification(p.verificationId, p.subjectType, p.subjectId, p.organizationId, p.verificationType)
            set("expiresAt", p.expiresAt.map { describe(Instant($0)) })
        case .verificationRejected(let p)?:
            verification(p.verificationId, p.subjectType, p.subjectId, p.organizationId, p.verificationType)
            set("reason", p.reason)
        case .verificationExpired(let p)?:
            verification(p.verificationId, p.subjectType, p.subjectId, p.organizationId, p.verificationType)
            set("expiredAt", p.expiredAt.map { describe(Instant($0)) })
        case .verificationRevoked(let p)?:
            verification(p.verificationId, p.subjectType, p.subjectId, p.organizationId, p.verificationType)
            set("reason", p.reason)
        default: break
        }
        func verification(_ id: String, _ subject: EventsV1.VerificationSubjectType, _ subjectID: String, _ organization: String, _ type: EventsV1.VerificationType) {
            set("verificationId", id)
            set("subjectKind", words(subject))
            set("subjectId", subjectID)
            set("organizationId", organization)
            set("verificationType", words(type))
        }
        return facts
    }

    /// `vehicleBreakdown` -> `vehicle breakdown`.
    static func words(_ value: some Any) -> String {
        var text = ""
        for character in String(describing: value) {
            if character.isUppercase {
                text += " " + character.lowercased()
            } else {
                text.append(character)
            }
        }
        return text
    }

    /// `2027-07-01 09:00 UTC`.
    static func describe(_ instant: Instant) -> String {
        CivilTime(instant).minuteText + " UTC"
    }

    static func describe(_ start: CommonV1.Timestamp?, _ end: CommonV1.Timestamp?) -> String {
        guard let start else { return "" }
        guard let end else { return "from \(describe(Instant(start))), open-ended" }
        return "\(describe(Instant(start))) to \(describe(Instant(end)))"
    }
}
