import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import Logging

/// The Identity context's door: every business verb goes through here, in a unit of work the
/// RPC layer opens (so that idempotency keys and the verb's changes commit together). It keeps
/// no business state: the database is the source of truth, so reentrancy at awaits is safe.
/// Verbs that open transactions of their own (login, token refresh) are `nonisolated`: their
/// units of work run on the pool's terms, not the actor's.
actor IdentityService {
    nonisolated let bus: EventBus
    nonisolated let hasher: PasswordHasher
    nonisolated let authority: TokenAuthority
    nonisolated let cache: PrincipalCache
    nonisolated let configuration: IdentityConfiguration
    nonisolated let logger: Logger

    init(bus: EventBus, configuration: IdentityConfiguration, logger: Logger) {
        self.bus = bus
        self.configuration = configuration
        self.logger = logger
        hasher = PasswordHasher(parameters: configuration.scrypt, threads: configuration.passwordHashThreads)
        authority = TokenAuthority(accessTokenLifetime: configuration.accessTokenLifetime)
        cache = PrincipalCache(timeToLive: configuration.principalCacheLifetime)
    }

    nonisolated var pool: PostgresPool { bus.pool }

    /// How long a change made inside a transaction that has not committed yet keeps its scope out
    /// of the cache. Commits follow within milliseconds; should one take longer, the commit's
    /// NOTIFY (heard by this process too) clears the cache again.
    static let uncommittedHoldOff: Duration = .seconds(2)

    // MARK: - Shared rules

    /// The organization a request names (empty: the caller's), if the caller may reach it;
    /// NOT_FOUND otherwise, so existence does not leak.
    func reachableOrganization(_ requested: UUID?, caller: Caller, on database: some Queryable) async throws -> OrganizationRecord {
        let id = requested ?? caller.organizationID
        guard caller.reaches(id), let organization = try await OrganizationStore.find(id, on: database) else {
            throw DomainError.notFound("organization")
        }
        return organization
    }

    /// A role that can be granted in `organization`.
    func grantableRole(_ id: UUID, in organization: OrganizationRecord, on database: some Queryable) async throws -> RoleRecord {
        guard let role = try await RoleStore.find(id, on: database) else { throw DomainError.notFound("role") }
        guard role.organizationKind == organization.kind else { throw IdentityErrors.roleMismatch }
        return role
    }

    /// A change to `scope` inside a transaction that has not committed yet: this process drops
    /// what it cached and keeps the scope out of the cache until the transaction surely ended
    /// (other processes hear ``AccessChangeSignal`` at commit).
    nonisolated func uncommitted(_ scope: AccessScope) {
        cache.invalidate(scope, holdOff: Self.uncommittedHoldOff)
    }

    // MARK: - Events

    func publishUserCreated(_ user: UserRecord, organization: UUID, on work: UnitOfWork) async throws {
        try await work.publish(EventDraft(
            "user.created", aggregateType: "user", aggregateID: user.id.lowercased, aggregateVersion: user.version,
            payload: .userCreated(EventsV1.UserCreated(
                userId: user.id.lowercased, organizationId: organization.lowercased, firstName: user.firstName, lastName: user.lastName,
                email: user.email, phone: user.phone.map { CommonV1.StringValue(value: $0) }
            ))
        ))
    }

    func publishMemberAdded(_ membership: MembershipRecord, on work: UnitOfWork) async throws {
        try await work.publish(EventDraft(
            "member.added", aggregateType: "membership", aggregateID: membership.id.lowercased, aggregateVersion: membership.version,
            payload: .memberAdded(EventsV1.MemberAdded(
                membershipId: membership.id.lowercased, userId: membership.userID.lowercased,
                organizationId: membership.organizationID.lowercased, roleId: membership.roleID.lowercased,
                roleName: membership.roleName, status: membership.status.event
            ))
        ))
    }
}

extension UUID {
    /// The wire form (DOMAIN.md: lower-case strings).
    var lowercased: String { lowercasedString }
}
