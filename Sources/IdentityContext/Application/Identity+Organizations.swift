import Foundation
import KaroKarKernel
import KaroKarMessages

/// Organizations: registered (public onboarding), read, listed; the roles they can grant.
extension Identity {
    /// Onboarding: a `PENDING` organization, its first user and their administrator membership,
    /// rate-limited per client address. The cheap checks come before the applicant's password is
    /// hashed (off the event loops, before the transaction opens): the request's validation (at
    /// the RPC edge), the limit, and the e-mail's uniqueness (a race past it still ends in
    /// `DUPLICATE_EMAIL`, from the unique index). The applicant acts (for the organization being
    /// created) in the events.
    nonisolated func register(
        _ organization: NewOrganization, admin profile: UserProfile, password: String, from client: ClientAddress, _ invocation: Invocation
    ) async throws -> Registration {
        try limits.registration.admit(client)
        guard try await UserStore.find(email: profile.email, on: environment.pool) == nil else {
            // Through the idempotent mutation all the same: a retry of a registration that
            // succeeded gets its first answer, not DUPLICATE_EMAIL.
            return try await bus.mutation(invocation) { _ -> Registration in throw IdentityErrors.duplicateEmail }
        }
        let admin = NewUser(profile: profile, passwordHash: try await hasher.hash(password))
        let applicant = invocation.attributed(to: EventOrigin(
            actor: EventsV1.Actor(id: admin.id.lowercasedString, type: .user), organizationID: organization.id.lowercasedString,
            correlationID: invocation.origin.correlationID
        ))
        return try await bus.mutation(applicant) { work in try await registered(organization, admin: admin, on: work) }
    }

    /// The organization, its first user and their administrator membership, in `work`, with
    /// their events. The platform organization (bootstrap) is created the same way, `ACTIVE`.
    nonisolated func registered(_ organization: NewOrganization, admin: NewUser, on work: UnitOfWork) async throws -> Registration {
        let created = try await OrganizationStore.insert(organization.record, on: work)
        let user = try await UserStore.insert(admin.record, passwordHash: admin.passwordHash, on: work)
        guard let role = try await RoleStore.find(name: SystemRole.administrator(of: organization.kind), kind: organization.kind, on: work) else {
            throw CorruptRow(description: "the administrator role is not seeded")
        }
        let membership = try await MembershipStore.insert(
            id: UUID.random(), user: user.id, organization: created.id, role: role.id, status: .active, on: work
        )
        try await work.publish(IdentityEvents.organizationRegistered(created, admin: user))
        try await work.publish(IdentityEvents.userCreated(user, organization: created.id))
        try await work.publish(IdentityEvents.memberAdded(membership))
        return Registration(organization: created, admin: user, membership: membership)
    }

    /// One organization the caller reaches (its own; platform administrators: any).
    nonisolated func organization(_ id: UUID, _ invocation: Invocation) async throws -> OrganizationRecord {
        try await readingOrganization(id, invocation) { organization, _ in organization }
    }

    /// Organizations visible to the caller: platform administrators see all, others their own
    /// and its children.
    nonisolated func organizations(
        _ filter: OrganizationFilter, page: Page<TimeKey>, _ invocation: Invocation
    ) async throws -> [OrganizationRecord] {
        let caller = try invocation.caller.authenticated()
        let visibleTo = caller.actsAcrossTenants ? nil : caller.organizationID
        return try await bus.read(invocation) { work in
            try await OrganizationStore.list(filter, visibleTo: visibleTo, after: page.after, limit: page.fetchLimit, on: work)
        }
    }

    /// The roles of an organization type (nil: the caller's); only platform administrators may
    /// ask for another type's.
    nonisolated func roles(of kind: TenantKind?, page: Page<String>, _ invocation: Invocation) async throws -> [RoleRecord] {
        let caller = try invocation.caller.authenticated()
        let kind = kind ?? caller.organizationKind
        guard kind == caller.organizationKind || caller.actsAcrossTenants else { throw IdentityErrors.otherTypesRoles }
        return try await bus.read(invocation) { work in
            try await RoleStore.list(kind: kind, afterName: page.after, limit: page.fetchLimit, on: work)
        }
    }
}
