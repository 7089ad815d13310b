import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarProto

// Domain records as `karokar.verification.v1` messages, and requests as domain values: the only
// place that maps them.

extension VerificationRecord {
    var message: VerificationV1.Verification {
        var message = VerificationV1.Verification(
            id: id.lowercasedString, subjectType: subjectType.message, subjectId: subjectID.lowercasedString,
            organizationId: organizationID.lowercasedString, type: type.message, method: method.message,
            provider: provider.map { CommonV1.StringValue(value: $0) }, providerReference: providerReference.map { CommonV1.StringValue(value: $0) },
            status: status.message, documentRefs: documentRefs, submittedBy: submittedBy, submittedAt: submittedAt.timestamp
        )
        message.reviewedBy = reviewedBy.map { CommonV1.StringValue(value: $0) }
        message.reviewedAt = reviewedAt?.timestamp
        message.expiresAt = expiresAt?.timestamp
        message.notes = notes
        message.version = version
        message.updatedAt = updatedAt.timestamp
        message.reviewNotes = reviewNotes.map { CommonV1.StringValue(value: $0) }
        return message
    }
}

extension VerificationDecision {
    var message: VerificationV1.VerificationDecision {
        VerificationV1.VerificationDecision(
            status: status.message, decidedBy: decidedBy, decidedAt: decidedAt.timestamp, notes: notes, expiresAt: expiresAt?.timestamp
        )
    }
}

extension SubjectType {
    var message: VerificationV1.VerificationSubjectType { VerificationV1.VerificationSubjectType(storedName: rawValue) ?? .unspecified }
}

extension VerificationType {
    var message: VerificationV1.VerificationType { VerificationV1.VerificationType(storedName: rawValue) ?? .unspecified }
}

extension VerificationMethod {
    var message: VerificationV1.VerificationMethod { VerificationV1.VerificationMethod(storedName: rawValue) ?? .unspecified }
}

extension VerificationStatus {
    var message: VerificationV1.VerificationStatus { VerificationV1.VerificationStatus(storedName: rawValue) ?? .unspecified }
}

extension Validation {
    static let maximumDocumentRefs = 20

    /// A known, non-default enum value, as the domain enum of the same stored name.
    mutating func known<E: ProtoEnum, D: RawRepresentable & CaseIterable>(_ value: E, _ field: String, as _: D.Type) -> D
    where D.RawValue == String {
        let value = known(value, field)
        if let domain = D(rawValue: value.storedName ?? "") { return domain }
        return D.allCases.first!
    }

    /// An optional enum filter: nil for the zero value.
    mutating func optionalKnown<E: ProtoEnum, D: RawRepresentable & CaseIterable>(_ value: E, _ field: String, as type: D.Type) -> D?
    where D.RawValue == String {
        value.isProtoDefault ? nil : known(value, field, as: type)
    }

    /// Optional notes sent as a wrapper: trimmed; nil when blank.
    mutating func optionalText(_ value: CommonV1.StringValue?, _ field: String, maximumLength: Int) -> String? {
        guard let value else { return nil }
        let text = text(value.value, field, maximumLength: maximumLength, required: false)
        return text.isEmpty ? nil : text
    }

    mutating func submission(_ request: VerificationV1.SubmitVerificationRequest, providers: [String: any VerificationProvider]) -> Submission {
        let subjectType = known(request.subjectType, "subjectType", as: SubjectType.self)
        let type = known(request.type, "type", as: VerificationType.self)
        if !request.subjectType.isProtoDefault, request.subjectType.isKnown, !request.type.isProtoDefault, request.type.isKnown,
           !type.subjects.contains(subjectType) {
            add("type", "MISMATCH", "a \(type.rawValue) verification is not about a \(subjectType.rawValue)")
        }
        let method = known(request.method, "method", as: VerificationMethod.self)
        var provider: String?
        if let name = request.provider {
            provider = text(name.value, "provider.value", maximumLength: 100)
            if method != .external { add("provider", "MISMATCH", "only EXTERNAL verifications name a provider") }
        }
        if method == .external, !request.method.isProtoDefault {
            if let name = provider {
                if providers[name].map({ $0.supportedTypes.contains(type) }) != true {
                    add("provider.value", "UNKNOWN_VALUE", "no provider of that name checks \(type.rawValue) verifications (ListVerificationProviders)")
                }
            } else {
                add("provider", "REQUIRED", "EXTERNAL verifications name a provider")
            }
        }
        if request.documentRefs.count > Self.maximumDocumentRefs {
            add("documentRefs", "TOO_MANY", "at most \(Self.maximumDocumentRefs) document references")
        }
        let refs = request.documentRefs.prefix(Self.maximumDocumentRefs).enumerated().map { text($0.element, "documentRefs[\($0.offset)]", maximumLength: 500) }
        return Submission(
            subjectType: subjectType, subjectID: uuid(request.subjectId, "subjectId"), type: type, method: method, provider: provider,
            documentRefs: refs, expiresAt: request.expiresAt.map { instant($0, "expiresAt") },
            notes: text(request.notes, "notes", maximumLength: 2000, required: false)
        )
    }

    mutating func filter(_ request: VerificationV1.ListVerificationsRequest) -> VerificationFilter {
        if request.statuses.count > VerificationStatus.allCases.count {
            add("statuses", "TOO_MANY", "at most \(VerificationStatus.allCases.count) statuses")
        }
        return VerificationFilter(
            subjectType: optionalKnown(request.subjectType, "subjectType", as: SubjectType.self),
            subjectID: request.subjectId.map { uuid($0.value, "subjectId.value") },
            type: optionalKnown(request.type, "type", as: VerificationType.self),
            statuses: request.statuses.prefix(VerificationStatus.allCases.count).enumerated().map { known($0.element, "statuses[\($0.offset)]", as: VerificationStatus.self) },
            organization: optionalUUID(request.organizationId, "organizationId")
        )
    }
}
