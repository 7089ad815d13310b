import Foundation
import KaroKarKernel

/// Rules several use cases share: whose organization a request reaches, which roles it grants,
/// and keeping the principal cache honest while a change has not committed.
extension Identity {
    /// How long a change made inside a transaction that has not committed yet keeps its scope out
    /// of the cache. Commits follow within milliseconds; should one take longer, the commit's
    /// NOTIFY (heard by this process too) clears the cache again.
    static let uncommittedHoldOff: Duration = .seconds(2)

    /// The organization a request names (nil: the caller's), if the caller may reach it;
    /// NOT_FOUND otherwise, so existence does not leak.
    nonisolated func reachableOrganization(
        _ requested: UUID?, _ caller: Caller, on database: some Queryable
    ) async throws -> OrganizationRecord {
        let id = requested ?? caller.organizationID
        guard caller.reaches(id), let organization = try await OrganizationStore.find(id, on: database) else {
            throw DomainError.notFound("organization")
        }
        return organization
    }

    /// `body`'s reads of an organization the caller reaches (nil: its own), in one snapshot;
    /// NOT_FOUND for any other.
    nonisolated func readingOrganization<Result: Sendable>(
        _ requested: UUID?, _ invocation: Invocation, _ body: (OrganizationRecord, UnitOfWork) async throws -> Result
    ) async throws -> Result {
        let caller = try invocation.caller.authenticated()
        return try await bus.read(invocation) { work in try await body(reachableOrganization(requested, caller, on: work), work) }
    }

    /// A role that can be granted in `organization`.
    nonisolated func grantableRole(_ id: UUID, in organization: OrganizationRecord, on database: some Queryable) async throws -> RoleRecord {
        guard let role = try await RoleStore.find(id, on: database) else { throw DomainError.notFound("role") }
        guard role.organizationKind == organization.kind else { throw IdentityErrors.roleMismatch }
        return role
    }

    /// A change to `scope` that affects access, inside `work`'s transaction: every process drops
    /// the affected principals when it commits (``AccessChangeSignal``), and this one at once,
    /// keeping the scope out of its cache until the transaction surely ended.
    nonisolated func accessChanged(_ scope: AccessScope, on work: UnitOfWork) async throws {
        try await AccessChangeSignal.send(on: work)
        cache.invalidate(scope, holdOff: Self.uncommittedHoldOff)
    }
}
