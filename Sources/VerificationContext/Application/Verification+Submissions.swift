import Foundation
import KaroKarKernel

/// Submitting, and reading what the caller may see.
extension Verification {
    /// A PENDING verification of a subject of the caller's organization.
    nonisolated func submit(_ submission: Submission, _ invocation: Invocation) async throws -> VerificationRecord {
        let caller = invocation.caller
        let now = environment.clock.now()
        if let expiry = submission.expiresAt, expiry <= now { throw VerificationError.expiryPassed() }
        return try await bus.mutation(invocation) { work in
            try await checkSubject(submission, of: caller, work)
            let actor = VerificationTenancy.actorName(caller)
            let record = try await VerificationStore.insert(VerificationRecord(
                id: UUID.random(), subjectType: submission.subjectType, subjectID: submission.subjectID, organizationID: caller.organizationID,
                type: submission.type, method: submission.method, provider: submission.provider, providerReference: nil, status: .pending,
                documentRefs: submission.documentRefs, submittedBy: actor, submittedAt: now, reviewedBy: nil, reviewedAt: nil,
                expiresAt: submission.expiresAt, notes: submission.notes, reviewNotes: nil, version: 1, updatedAt: now
            ), work)
            try await work.publish(VerificationEvents.submitted(record))
            return record
        }
    }

    /// The subject must be the caller's: its own organization, one of its live members, one of
    /// its vehicles or their documents (of the kind the type names). Anything else, another
    /// tenant's subject included, answers NOT_FOUND.
    nonisolated func checkSubject(_ submission: Submission, of caller: Caller, _ work: UnitOfWork) async throws {
        let organization = caller.organizationID
        let owned: Bool
        switch submission.subjectType {
        case .organization:
            owned = submission.subjectID == organization && !caller.isSystem
        case .user:
            let member = try await members.member(user: submission.subjectID, organization: organization, on: work)
            owned = member.map { $0.status != .removed } ?? false
        case .vehicle:
            owned = try await vehicles.bookingFacts(submission.subjectID, on: work)?.ownerOrganizationID == organization
        case .vehicleDocument:
            let document = try await documents.documentFacts(submission.subjectID, on: work)
            owned = document?.ownerOrganizationID == organization && document?.kind == submission.type.documentKind
        }
        guard owned else { throw VerificationError.subjectNotFound() }
    }

    /// One verification with its history, when the caller may see it.
    nonisolated func verification(_ id: UUID, _ invocation: Invocation) async throws -> VerificationDetail {
        try await bus.read(invocation) { work in
            guard let record = try await VerificationStore.get(id, work), VerificationTenancy.visible(record, invocation.caller) else {
                throw VerificationError.notFound()
            }
            return VerificationDetail(record: record, history: try await VerificationStore.history(id, work))
        }
    }

    /// A page of the verifications the caller may see, newest first.
    nonisolated func verifications(_ filter: VerificationFilter, after: TimeKey?, limit: Int, _ invocation: Invocation) async throws -> [VerificationRecord] {
        guard let organization = VerificationTenancy.listed(filter.organization, invocation.caller) else { return [] }
        return try await bus.read(invocation) { work in
            try await VerificationStore.list(filter, organization: organization, after: after, limit: limit, work)
        }
    }

    /// The configured external providers, by name.
    nonisolated var providerList: [(name: String, types: [VerificationType])] {
        providers.values.map { ($0.name, VerificationType.allCases.filter($0.supportedTypes.contains)) }.sorted { $0.name < $1.name }
    }
}
