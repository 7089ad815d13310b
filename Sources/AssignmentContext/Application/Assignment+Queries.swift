import Foundation
import KaroKarKernel

/// Reads: one assignment, a corporate's assignments, the caller's own.
extension Assignment {
    nonisolated func assignment(_ id: UUID, _ invocation: Invocation) async throws -> AssignmentRecord {
        try await bus.read(invocation) { work in
            guard let found = try await AssignmentStore.get(id, work), AssignmentTenancy.mayRead(found, invocation.caller) else {
                throw DomainError.notFound("assignment")
            }
            return found
        }
    }

    /// A page of a corporate's assignments (the caller's; any, for platform administrators),
    /// newest first; a caller with assignment.read_own only sees their own.
    nonisolated func assignments(
        of organization: UUID?, _ filter: AssignmentFilter, page: Page<TimeKey>, _ invocation: Invocation
    ) async throws -> [AssignmentRecord] {
        let caller = invocation.caller
        var filter = filter
        var corporate = caller.organizationID
        if let organization, organization != caller.organizationID {
            guard caller.actsAcrossTenants else { throw DomainError.notFound("organization") }
            corporate = organization
        }
        if !caller.actsAcrossTenants, !caller.has(.assignmentRead) {
            guard filter.employee == nil || filter.employee == caller.principalID else { return [] }
            filter.employee = caller.principalID
        }
        let scoped = filter
        return try await bus.read(invocation) { work in
            try await AssignmentStore.list(corporate: corporate, scoped, after: page.after, limit: page.fetchLimit, work)
        }
    }

    /// A page of the caller's own assignments in the caller's corporate, newest first.
    nonisolated func myAssignments(statuses: [AssignmentStatus], page: Page<TimeKey>, _ invocation: Invocation) async throws -> [AssignmentRecord] {
        let caller = invocation.caller
        let filter = AssignmentFilter(statuses: statuses, employee: caller.principalID)
        return try await bus.read(invocation) { work in
            try await AssignmentStore.list(corporate: caller.organizationID, filter, after: page.after, limit: page.fetchLimit, work)
        }
    }
}
