import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import KaroKarServices

/// `karokar.verification.v1.VerificationService`: validates each request (INVALID_ARGUMENT with
/// every field violation, before anything is written), parses it once into domain values, calls
/// the ``Verification`` use case and maps the result. Permissions are checked by the
/// authorization interceptor from the access rules in the protos; tenancy by the use cases.
struct VerificationHandler: VerificationV1.VerificationService.Handler {
    let verification: Verification

    var pages: PageTokens { verification.environment.pages }

    func submitVerification(
        _ request: VerificationV1.SubmitVerificationRequest, context: ServerCallContext
    ) async throws -> VerificationV1.SubmitVerificationResponse {
        var check = Validation()
        let submission = check.submission(request, providers: verification.providers)
        try check.finish()
        let record = try await verification.submit(submission, Invocation(context, fingerprint: request))
        return VerificationV1.SubmitVerificationResponse(verification: record.message)
    }

    func approveVerification(
        _ request: VerificationV1.ApproveVerificationRequest, context: ServerCallContext
    ) async throws -> VerificationV1.ApproveVerificationResponse {
        var check = Validation()
        let id = check.uuid(request.verificationId, "verificationId")
        let expiresAt = request.expiresAt.map { check.instant($0, "expiresAt") }
        let notes = check.optionalText(request.notes, "notes.value", maximumLength: 2000)
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let saved = try await verification.approve(
            id, expiresAt: expiresAt, notes: notes, expectedVersion: version, Invocation(context, fingerprint: request)
        )
        return VerificationV1.ApproveVerificationResponse(verification: saved.message)
    }

    func rejectVerification(
        _ request: VerificationV1.RejectVerificationRequest, context: ServerCallContext
    ) async throws -> VerificationV1.RejectVerificationResponse {
        let (id, reason, version) = try parseDecision(request.verificationId, request.reason, request.expectedVersion)
        let saved = try await verification.reject(id, reason: reason, expectedVersion: version, Invocation(context, fingerprint: request))
        return VerificationV1.RejectVerificationResponse(verification: saved.message)
    }

    func revokeVerification(
        _ request: VerificationV1.RevokeVerificationRequest, context: ServerCallContext
    ) async throws -> VerificationV1.RevokeVerificationResponse {
        let (id, reason, version) = try parseDecision(request.verificationId, request.reason, request.expectedVersion)
        let saved = try await verification.revoke(id, reason: reason, expectedVersion: version, Invocation(context, fingerprint: request))
        return VerificationV1.RevokeVerificationResponse(verification: saved.message)
    }

    func runVerificationExpirySweep(
        _ request: VerificationV1.RunVerificationExpirySweepRequest, context: ServerCallContext
    ) async throws -> VerificationV1.RunVerificationExpirySweepResponse {
        var check = Validation()
        let asOf = request.asOf.map { check.instant($0, "asOf") }
        try check.finish()
        let expired = try await verification.runExpirySweep(asOf: asOf, dryRun: request.dryRun, Invocation(context, fingerprint: request))
        return VerificationV1.RunVerificationExpirySweepResponse(expired: expired.map(\.message))
    }

    func getVerification(
        _ request: VerificationV1.GetVerificationRequest, context: ServerCallContext
    ) async throws -> VerificationV1.GetVerificationResponse {
        var check = Validation()
        let id = check.uuid(request.verificationId, "verificationId")
        try check.finish()
        let detail = try await verification.verification(id, Invocation(context, fingerprint: request))
        var message = detail.record.message
        message.history = detail.history.map(\.message)
        return VerificationV1.GetVerificationResponse(verification: message)
    }

    func listVerifications(
        _ request: VerificationV1.ListVerificationsRequest, context: ServerCallContext
    ) async throws -> VerificationV1.ListVerificationsResponse {
        var check = Validation()
        let filter = check.filter(request)
        try check.finish()
        let page = try Page<TimeKey>(request.page, list: "verification.list", tokens: pages, maximum: 200)
        let rows = try await verification.verifications(filter, after: page.after, limit: page.fetchLimit, Invocation(context, fingerprint: request))
        let (kept, next) = page.cut(rows) { TimeKey($0.submittedAt, $0.id) }
        return VerificationV1.ListVerificationsResponse(verifications: kept.map(\.message), page: next)
    }

    func listVerificationProviders(
        _ request: VerificationV1.ListVerificationProvidersRequest, context: ServerCallContext
    ) async throws -> VerificationV1.ListVerificationProvidersResponse {
        _ = try context.requireCaller()
        return VerificationV1.ListVerificationProvidersResponse(providers: verification.providerList.map { provider in
            VerificationV1.VerificationProvider(name: provider.name, supportedTypes: provider.types.map(\.message))
        })
    }

    private func parseDecision(
        _ id: String, _ reason: String, _ expected: CommonV1.Int64Value?
    ) throws(RPCError) -> (UUID, String, Int64?) {
        var check = Validation()
        let id = check.uuid(id, "verificationId")
        let reason = check.text(reason, "reason", maximumLength: 2000)
        let version = check.expectedVersion(expected)
        try check.finish()
        return (id, reason, version)
    }
}
