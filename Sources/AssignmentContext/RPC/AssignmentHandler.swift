import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import KaroKarServices

/// `karokar.assignment.v1.AssignmentService`: validates each request, parses it once into domain
/// values, calls the ``Assignment`` use case and maps the result. Permissions are checked by the
/// authorization interceptor from the access rules in the protos; tenancy by the use cases.
struct AssignmentHandler: AssignmentV1.AssignmentService.Handler {
    let assignment: Assignment

    var pages: PageTokens { assignment.environment.pages }

    func createAssignment(
        _ request: AssignmentV1.CreateAssignmentRequest, context: ServerCallContext
    ) async throws -> AssignmentV1.CreateAssignmentResponse {
        var check = Validation()
        let vehicle = check.uuid(request.vehicleId, "vehicleId")
        let employee = check.uuid(request.employeeId, "employeeId")
        let period = check.openPeriod(request.period, "period")
        try check.finish()
        let created = try await assignment.createAssignment(vehicle: vehicle, employee: employee, period: period, Invocation(context, fingerprint: request))
        return AssignmentV1.CreateAssignmentResponse(assignment: created.message)
    }

    func acceptAssignment(
        _ request: AssignmentV1.AcceptAssignmentRequest, context: ServerCallContext
    ) async throws -> AssignmentV1.AcceptAssignmentResponse {
        let (id, version) = try parse(request.assignmentId, request.expectedVersion)
        return AssignmentV1.AcceptAssignmentResponse(
            assignment: try await assignment.accept(id, expectedVersion: version, Invocation(context, fingerprint: request)).message
        )
    }

    func rejectAssignment(
        _ request: AssignmentV1.RejectAssignmentRequest, context: ServerCallContext
    ) async throws -> AssignmentV1.RejectAssignmentResponse {
        var check = Validation()
        let id = check.uuid(request.assignmentId, "assignmentId")
        let reason = check.optionalText(request.reason, "reason.value", maximumLength: 2000)
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let rejected = try await assignment.reject(id, reason: reason, expectedVersion: version, Invocation(context, fingerprint: request))
        return AssignmentV1.RejectAssignmentResponse(assignment: rejected.message)
    }

    func reassignAssignment(
        _ request: AssignmentV1.ReassignAssignmentRequest, context: ServerCallContext
    ) async throws -> AssignmentV1.ReassignAssignmentResponse {
        var check = Validation()
        let id = check.uuid(request.assignmentId, "assignmentId")
        let employee = check.uuid(request.employeeId, "employeeId")
        let notes = check.optionalText(request.notes, "notes.value", maximumLength: 2000)
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let result = try await assignment.reassign(id, to: employee, notes: notes, expectedVersion: version, Invocation(context, fingerprint: request))
        return AssignmentV1.ReassignAssignmentResponse(closedAssignment: result.closed.message, assignment: result.created.message)
    }

    func activateAssignment(
        _ request: AssignmentV1.ActivateAssignmentRequest, context: ServerCallContext
    ) async throws -> AssignmentV1.ActivateAssignmentResponse {
        let (id, version) = try parse(request.assignmentId, request.expectedVersion)
        return AssignmentV1.ActivateAssignmentResponse(
            assignment: try await assignment.activate(id, expectedVersion: version, Invocation(context, fingerprint: request)).message
        )
    }

    func completeAssignment(
        _ request: AssignmentV1.CompleteAssignmentRequest, context: ServerCallContext
    ) async throws -> AssignmentV1.CompleteAssignmentResponse {
        let (id, version) = try parse(request.assignmentId, request.expectedVersion)
        return AssignmentV1.CompleteAssignmentResponse(
            assignment: try await assignment.complete(id, expectedVersion: version, Invocation(context, fingerprint: request)).message
        )
    }

    func closeAssignment(
        _ request: AssignmentV1.CloseAssignmentRequest, context: ServerCallContext
    ) async throws -> AssignmentV1.CloseAssignmentResponse {
        var check = Validation()
        let id = check.uuid(request.assignmentId, "assignmentId")
        let notes = check.optionalText(request.notes, "notes.value", maximumLength: 2000)
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let closed = try await assignment.close(id, notes: notes, expectedVersion: version, Invocation(context, fingerprint: request))
        return AssignmentV1.CloseAssignmentResponse(assignment: closed.message)
    }

    func getAssignment(_ request: AssignmentV1.GetAssignmentRequest, context: ServerCallContext) async throws -> AssignmentV1.GetAssignmentResponse {
        var check = Validation()
        let id = check.uuid(request.assignmentId, "assignmentId")
        try check.finish()
        return AssignmentV1.GetAssignmentResponse(assignment: try await assignment.assignment(id, Invocation(context, fingerprint: request)).message)
    }

    func listAssignments(
        _ request: AssignmentV1.ListAssignmentsRequest, context: ServerCallContext
    ) async throws -> AssignmentV1.ListAssignmentsResponse {
        var check = Validation()
        let filter = AssignmentFilter(
            statuses: check.statuses(request.statuses), employee: request.employeeId.map { check.uuid($0.value, "employeeId.value") },
            vehicle: request.vehicleId.map { check.uuid($0.value, "vehicleId.value") },
            booking: request.bookingId.map { check.uuid($0.value, "bookingId.value") },
            overlapping: request.overlapping.map { check.openPeriod($0, "overlapping") }
        )
        let organization = check.optionalUUID(request.corporateOrganizationId, "corporateOrganizationId")
        try check.finish()
        let page = try Page<TimeKey>(request.page, list: "assignment.corporate", tokens: pages, maximum: 200)
        let rows = try await assignment.assignments(of: organization, filter, page: page, Invocation(context, fingerprint: request))
        let (kept, next) = page.cut(rows) { TimeKey($0.createdAt, $0.id) }
        return AssignmentV1.ListAssignmentsResponse(assignments: kept.map(\.message), page: next)
    }

    func listMyAssignments(
        _ request: AssignmentV1.ListMyAssignmentsRequest, context: ServerCallContext
    ) async throws -> AssignmentV1.ListMyAssignmentsResponse {
        var check = Validation()
        let statuses = check.statuses(request.statuses)
        try check.finish()
        let page = try Page<TimeKey>(request.page, list: "assignment.mine", tokens: pages, maximum: 200)
        let rows = try await assignment.myAssignments(statuses: statuses, page: page, Invocation(context, fingerprint: request))
        let (kept, next) = page.cut(rows) { TimeKey($0.createdAt, $0.id) }
        return AssignmentV1.ListMyAssignmentsResponse(assignments: kept.map(\.message), page: next)
    }

    private func parse(_ id: String, _ expected: CommonV1.Int64Value?) throws(RPCError) -> (UUID, Int64?) {
        var check = Validation()
        let id = check.uuid(id, "assignmentId")
        let version = check.expectedVersion(expected)
        try check.finish()
        return (id, version)
    }
}
