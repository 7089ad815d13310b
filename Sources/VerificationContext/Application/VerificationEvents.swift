import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarProto

/// The `verification.*` events (DOMAIN.md section 8), built from the saved record: aggregate the
/// verification, at its version after the change. Every payload repeats the subject, so Fleet
/// gates and suspends vehicles without reading Verification's tables.
enum VerificationEvents {
    static func submitted(_ r: VerificationRecord) -> EventDraft {
        draft("verification.submitted", r, .verificationSubmitted(EventsV1.VerificationSubmitted(
            verificationId: r.id.lowercasedString, subjectType: r.subjectType.event, subjectId: r.subjectID.lowercasedString,
            organizationId: r.organizationID.lowercasedString, verificationType: r.type.event, method: r.method.event,
            provider: r.provider.map { CommonV1.StringValue(value: $0) }, submittedBy: r.submittedBy
        )))
    }

    /// The event of `command`; `decidedBy` is the reviewer (nil: a provider or the system).
    static func transition(_ command: VerificationCommand, _ r: VerificationRecord, decidedBy: String?, reason: String, at instant: Instant) -> EventDraft {
        let (id, subject, organization) = (r.id.lowercasedString, r.subjectID.lowercasedString, r.organizationID.lowercasedString)
        let reviewer = decidedBy.map { CommonV1.StringValue(value: $0) }
        let provider = r.provider.map { CommonV1.StringValue(value: $0) }
        let payload: EventsV1.EventEnvelope.PayloadOneof = switch command {
        case .approve:
            .verificationApproved(EventsV1.VerificationApproved(
                verificationId: id, subjectType: r.subjectType.event, subjectId: subject, organizationId: organization,
                verificationType: r.type.event, method: r.method.event, provider: provider, reviewedBy: reviewer,
                expiresAt: r.expiresAt?.timestamp
            ))
        case .reject:
            .verificationRejected(EventsV1.VerificationRejected(
                verificationId: id, subjectType: r.subjectType.event, subjectId: subject, organizationId: organization,
                verificationType: r.type.event, method: r.method.event, provider: provider, reviewedBy: reviewer, reason: reason
            ))
        case .expire:
            .verificationExpired(EventsV1.VerificationExpired(
                verificationId: id, subjectType: r.subjectType.event, subjectId: subject, organizationId: organization,
                verificationType: r.type.event, expiredAt: (r.expiresAt ?? instant).timestamp
            ))
        case .revoke:
            .verificationRevoked(EventsV1.VerificationRevoked(
                verificationId: id, subjectType: r.subjectType.event, subjectId: subject, organizationId: organization,
                verificationType: r.type.event, revokedBy: decidedBy ?? "system", reason: reason
            ))
        }
        return draft(command.eventType, r, payload)
    }

    private static func draft(_ type: String, _ r: VerificationRecord, _ payload: EventsV1.EventEnvelope.PayloadOneof) -> EventDraft {
        EventDraft(type, aggregateType: "verification", aggregateID: r.id.lowercasedString, aggregateVersion: r.version, payload: payload)
    }
}

extension SubjectType {
    var event: EventsV1.VerificationSubjectType { EventsV1.VerificationSubjectType(storedName: rawValue) ?? .unspecified }
}

extension VerificationType {
    var event: EventsV1.VerificationType { EventsV1.VerificationType(storedName: rawValue) ?? .unspecified }
}

extension VerificationMethod {
    var event: EventsV1.VerificationMethod { EventsV1.VerificationMethod(storedName: rawValue) ?? .unspecified }
}
