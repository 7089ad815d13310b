import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import KaroKarServices

/// `karokar.administration.v1.AdministrationService`: validation, mapping, and the unit of work
/// (with the call's idempotency key) around each decision. Every method is for platform
/// administrators acting for the platform organization; the access table asks for
/// organization.approve, and this checks the organization too.
struct AdministrationHandler: AdministrationV1.AdministrationService.Handler {
    let service: AdministrationService

    func platformCaller(_ context: ServerCallContext) throws -> Caller {
        let caller = try context.requireCaller()
        guard caller.actsAcrossTenants, caller.has(.organizationApprove) else {
            throw DomainError.permissionDenied("only platform administrators may do this")
        }
        return caller
    }

    private func decide<Response: ProtoMessage, Request: ProtoMessage>(
        _ decision: Decision, _ request: Request, organization: String, notes: String?, notesRequired: Bool,
        expected: CommonV1.Int64Value?, context: ServerCallContext,
        _ response: (AdministrationV1.OrganizationSummary, AdministrationV1.OrganizationApproval) -> Response
    ) async throws -> Response {
        let caller = try platformCaller(context)
        var check = Validation()
        let id = check.uuid(organization, "organizationId")
        let text = notes.map { check.text($0, notesRequired ? "notes" : "notes.value", maximumLength: 2000, required: notesRequired) }
        if let expected, expected.value < 1 { check.add("expectedVersion", "OUT_OF_RANGE", "expectedVersion must be 1 or more") }
        try check.finish()
        return try await Idempotency.mutation(context, request: request, bus: service.bus, origin: EventOrigin(call: context)) { work in
            let (summary, approval) = try await service.decide(
                decision, organization: id, notes: text.flatMap { $0.isEmpty ? nil : $0 }, expectedVersion: expected?.value,
                caller: caller, on: work
            )
            return response(summary.message, approval.message)
        }
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
