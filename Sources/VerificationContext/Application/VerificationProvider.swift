import Foundation
import KaroKarKernel

/// An external check (a national identity registry, a licensing authority, an insurer) behind one
/// interface: asked after a submission with method EXTERNAL commits, its answer approves or
/// rejects the verification. A new provider is a new conformance and a setting, never a schema
/// change. ``HTTPVerificationProvider`` is the one that ships.
protocol VerificationProvider: Sendable {
    /// Its configured name, as `Verification.provider` records it.
    var name: String { get }
    /// The verification types it can check.
    var supportedTypes: Set<VerificationType> { get }
    /// Asks for a decision: an answer, or a ``ProviderFailure`` once its own retries are spent.
    func check(_ request: ProviderRequest) async throws -> ProviderAnswer
}

/// What a provider is told about a verification.
struct ProviderRequest: Sendable, Hashable {
    var verificationID: UUID
    var subjectType: SubjectType
    var subjectID: UUID
    var organizationID: UUID
    var type: VerificationType
    var documentRefs: [String]
    var expiresAt: Instant?
    var notes: String

    init(_ record: VerificationRecord) {
        verificationID = record.id
        subjectType = record.subjectType
        subjectID = record.subjectID
        organizationID = record.organizationID
        type = record.type
        documentRefs = record.documentRefs
        expiresAt = record.expiresAt
        notes = record.notes
    }
}

/// A provider's decision.
struct ProviderAnswer: Sendable, Hashable {
    enum Decision: String, Sendable, Hashable {
        case approved = "APPROVED"
        case rejected = "REJECTED"
    }

    var decision: Decision
    /// The provider's own reference for the check.
    var reference: String?
    /// The approval's expiry, when the provider sets one (else the submitted one stands).
    var expiresAt: Instant?
    /// An explanation, a rejection's reason.
    var reason: String?
}

/// Why a provider gave no decision (after its own retries).
enum ProviderFailure: Error, Hashable, CustomStringConvertible {
    /// No answer within the timeout.
    case timedOut
    /// The endpoint could not be reached, or the connection failed.
    case unreachable(String)
    /// An HTTP status other than 200.
    case status(Int)
    /// A body that is not a valid answer.
    case malformedAnswer(String)

    var description: String {
        switch self {
        case .timedOut: "the provider did not answer in time"
        case .unreachable(let reason): "the provider could not be reached: \(reason)"
        case .status(let code): "the provider answered HTTP \(code)"
        case .malformedAnswer(let reason): "the provider's answer is malformed: \(reason)"
        }
    }
}
