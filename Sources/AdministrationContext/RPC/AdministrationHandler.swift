import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import KaroKarServices

/// `karokar.administration.v1.AdministrationService`: validates each request, parses it once into
/// domain values, calls the ``Administration`` use case, maps the result to the response. Every
/// method is for platform administrators (the use cases check it). Split by concern into
/// `AdministrationHandler+*.swift`.
struct AdministrationHandler: AdministrationV1.AdministrationService.Handler {
    let administration: Administration

    var pages: PageTokens { administration.environment.pages }

    private func decide<Response: ProtoMessage, Request: ProtoMessage>(
        _ decision: Decision, _ request: Request, organization: String, notes: String?, notesRequired: Bool,
        expected: CommonV1.Int64Value?, context: ServerCallContext,
        _ response: (AdministrationV1.OrganizationSummary, AdministrationV1.OrganizationApproval) -> Response
    ) async throws -> Response {
        var check = Validation()
        let id = check.uuid(organization, "organizationId")
        let text = notes.map { check.text($0, notesRequired ? "notes" : "notes.value", maximumLength: 2000, required: notesRequired) }
        let version = check.expectedVersion(expected)
        try check.finish()
        let outcome = try await administration.decide(
            decision, organization: id, notes: text.flatMap { $0.isEmpty ? nil : $0 }, expectedVersion: version,
            Invocation(context, fingerprint: request)
        )
        return response(outcome.organization.message, outcome.approval.message)
    }

    func approveOrganization(
        _ request: AdministrationV1.ApproveOrganizationRequest, context: ServerCallContext
    ) async throws -> AdministrationV1.ApproveOrganizationResponse {
        try await decide(.approve, request, organization: request.organizationId, notes: request.notes?.value, notesRequired: false,
                         expected: request.expectedVersion, context: context) {
            AdministrationV1.ApproveOrganizationResponse(organization: $0, approval: $1)
        }
    }

    func rejectOrganization(
        _ request: AdministrationV1.RejectOrganizationRequest, context: ServerCallContext
    ) async throws -> AdministrationV1.RejectOrganizationResponse {
        try await decide(.reject, request, organization: request.organizationId, notes: request.notes, notesRequired: true,
                         expected: request.expectedVersion, context: context) {
            AdministrationV1.RejectOrganizationResponse(organization: $0, approval: $1)
        }
    }

    func suspendOrganization(
        _ request: AdministrationV1.SuspendOrganizationRequest, context: ServerCallContext
    ) async throws -> AdministrationV1.SuspendOrganizationResponse {
        try await decide(.suspend, request, organization: request.organizationId, notes: request.notes, notesRequired: true,
                         expected: request.expectedVersion, context: context) {
            AdministrationV1.SuspendOrganizationResponse(organization: $0, approval: $1)
        }
    }

    func reinstateOrganization(
        _ request: AdministrationV1.ReinstateOrganizationRequest, context: ServerCallContext
    ) async throws -> AdministrationV1.ReinstateOrganizationResponse {
        try await decide(.reinstate, request, organization: request.organizationId, notes: request.notes?.value, notesRequired: false,
                         expected: request.expectedVersion, context: context) {
            AdministrationV1.ReinstateOrganizationResponse(organization: $0, approval: $1)
        }
    }
}
