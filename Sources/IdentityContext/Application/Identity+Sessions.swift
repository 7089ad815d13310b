import Foundation
import KaroKarKernel
import KaroKarMessages

/// Login, tokens, logout, the caller's own memberships. Login, RefreshToken and
/// ExchangeServiceAccountToken take no idempotency key: they issue credentials, and a stored
/// answer would keep a live token (the README, "Idempotency and versions").
extension Identity {
    /// Authenticates a user for one membership, from `client`'s address (rate-limited per address,
    /// failures counted per account and address: the README, "Authentication" and "Rationing").
    /// Every failure is the same UNAUTHENTICATED answer, and an unknown e-mail, a wrong password
    /// and a disabled user do the same work: one read of the user, one of the counts, one
    /// password verification (against a decoy without a user), one failure recorded.
    nonisolated func login(
        email: String, password: String, organization: UUID?, from client: ClientAddress, _ invocation: Invocation
    ) async throws -> IssuedGrant {
        try limits.login.admit(client)
        let account = LoginAccount(email: email)
        let pool = environment.pool
        let credential = try await UserStore.credential(email: email, on: pool)
        let standing = try await CredentialStore.standing(account, from: client, throttle: configuration.loginThrottle, on: pool)
        guard !standing.locked else { throw IdentityErrors.invalidCredentials }  // the same for unknown e-mails: no hash spent
        try await slowDown(standing)
        let matches = try await hasher.verify(password, against: credential?.1)
        guard let (user, hash) = credential, matches, user.status == .active else {
            try await recordFailedLogin(account, from: client)
            throw IdentityErrors.invalidCredentials
        }
        let membership = try await loginMembership(user, organization: organization)
        // The user acts, for the organization they signed in to.
        let origin = EventOrigin(
            actor: EventsV1.Actor(id: user.id.lowercasedString, type: .user), organizationID: membership.organizationID.lowercasedString,
            correlationID: invocation.origin.correlationID
        )
        let grant = try await bus.transaction(origin) { work in
            if membership.status == .invited { try await acceptInvitation(membership, on: work) }
            try await CredentialStore.clearFailures(account, from: client, on: work)
            return try await grantTokens(
                CredentialStore.RefreshGrant(membershipID: membership.id, userID: user.id, familyID: UUID.random()),
                organization: membership.organizationID, on: work
            )
        }
        // Best effort: the session exists; a full hashing queue or a lost connection leaves the
        // upgrade to the next login.
        try? await upgradeHash(of: user.id, from: hash, password: password)
        return grant
    }

    /// The global slow-down of an account failing from many addresses: a wait before the
    /// password is checked (holding no hashing thread and no connection), never a refusal.
    private nonisolated func slowDown(_ standing: LoginStanding) async throws {
        let delay = configuration.loginThrottle.slowDown(recentFailures: standing.recentFailures)
        guard delay > .zero else { return }
        try await Task.sleep(for: delay)
    }

    /// Counts a failed login (or a wrong current password) of the account from `client`, and
    /// locks that pair as the throttle says.
    nonisolated func recordFailedLogin(_ account: LoginAccount, from client: ClientAddress) async throws {
        let lock = try await bus.transaction(.system()) { work in
            try await CredentialStore.recordFailure(account, from: client, throttle: configuration.loginThrottle, on: work)
        }
        if lock > .zero {
            logger.notice("an account is locked for one client address after repeated failed logins", metadata: [
                "client.address": "\(client.key)", "lock.seconds": "\(lock.components.seconds)",
            ])
        }
    }

    /// With an organization named: that live membership (an invitation is accepted by this
    /// login). Without: the user's only ACTIVE membership.
    private nonisolated func loginMembership(_ user: UserRecord, organization: UUID?) async throws -> MembershipRecord {
        let pool = environment.pool
        if let organization {
            guard let membership = try await MembershipStore.live(user: user.id, organization: organization, on: pool),
                  membership.status == .active || membership.status == .invited
            else { throw IdentityErrors.invalidCredentials }
            return membership
        }
        let active = try await MembershipStore.ofUser(user.id, statuses: [.active], limit: 2, on: pool)
        guard let only = active.first else { throw IdentityErrors.invalidCredentials }
        guard active.count == 1 else { throw IdentityErrors.organizationRequired }
        return only
    }

    private nonisolated func acceptInvitation(_ membership: MembershipRecord, on work: UnitOfWork) async throws {
        guard let locked = try await MembershipStore.lock(membership.id, on: work), locked.status == .invited else { return }
        let active = try await MembershipStore.accept(locked.id, on: work)
        try await work.publish(IdentityEvents.memberActivated(active))
        try await accessChanged(.membership(active.id), on: work)
    }

    private nonisolated func grantTokens(
        _ refresh: CredentialStore.RefreshGrant, organization: UUID, on work: UnitOfWork
    ) async throws -> IssuedGrant {
        let (refreshToken, refreshExpires) = try await CredentialStore.issueRefreshToken(
            refresh, lifetime: configuration.refreshTokenLifetime, on: work
        )
        let access = try authority.issue(
            kind: .user, subject: refresh.userID, organization: organization, membership: refresh.membershipID, session: refresh.familyID
        )
        return IssuedGrant(
            accessToken: access.token, accessTokenExpiresAt: access.expiresAt, refreshToken: refreshToken,
            refreshTokenExpiresAt: refreshExpires, userID: refresh.userID, organizationID: organization
        )
    }

    /// A hash made with weaker parameters than today's is replaced after a successful login.
    private nonisolated func upgradeHash(of user: UUID, from hash: PasswordHash, password: String) async throws {
        guard hash.parameters.logN < hasher.parameters.logN else { return }
        let stronger = try await hasher.hash(password)
        try await UserStore.setPasswordHash(user, stronger, bumpVersion: false, on: environment.pool)
    }

    /// Exchanges a refresh token (consumed) for new tokens of the same session and membership, if
    /// the membership and its user are still active. A used token presented again ends its
    /// session (its access tokens too).
    nonisolated func refresh(_ secret: String, _ invocation: Invocation) async throws -> IssuedGrant {
        guard OpaqueSecret.isWellFormed(secret) else { throw IdentityErrors.invalidRefreshToken }
        let grant: IssuedGrant? = try await bus.transaction(.system()) { work in
            switch try await CredentialStore.consumeRefreshToken(secret, on: work) {
            case .refused: return nil
            case .replayed(let membership):
                try await accessChanged(.membership(membership), on: work)
                return nil
            case .granted(let refresh):
                guard let principal = try await PrincipalStore.membership(refresh.membershipID, sessionsEndedWithin: .zero, on: work),
                      principal.isActive
                else { return nil }
                return try await grantTokens(refresh, organization: principal.organization.id, on: work)
            }
        }
        guard let grant else { throw IdentityErrors.invalidRefreshToken }
        return grant
    }

    /// Ends the session of one of the calling user's refresh tokens: the token and its access
    /// tokens stop working, on every server process, as soon as the change commits.
    nonisolated func logout(_ secret: String, _ invocation: Invocation) async throws {
        let caller = try invocation.caller.authenticatedUser()
        guard OpaqueSecret.isWellFormed(secret) else { return }
        try await bus.transaction(invocation.origin) { work in
            guard let membership = try await CredentialStore.endSession(secret, user: caller.principalID, on: work) else { return }
            try await accessChanged(.membership(membership), on: work)
        }
    }

    /// A service account's id and secret for an access token carrying its secret generation;
    /// rate-limited per client address.
    nonisolated func exchange(
        serviceAccount id: UUID, secret: String, from client: ClientAddress, _ invocation: Invocation
    ) async throws -> ExchangedToken {
        try limits.tokenExchange.admit(client)
        guard OpaqueSecret.isWellFormed(secret),
              let (account, matches) = try await ServiceAccountStore.credential(id, secret: secret, on: environment.pool),
              matches, account.status == .active
        else { throw IdentityErrors.invalidServiceAccountSecret }
        let issued = try authority.issue(
            kind: .serviceAccount, subject: account.id, organization: account.organizationID, secretGeneration: account.secretGeneration
        )
        return ExchangedToken(accessToken: issued.token, expiresAt: issued.expiresAt, organizationID: account.organizationID)
    }

    /// The calling user's live memberships (invitations included) with their organizations.
    nonisolated func myMemberships(page: Page<TimeKey>, _ invocation: Invocation) async throws -> [OrganizationMembership] {
        let caller = try invocation.caller.authenticatedUser()
        return try await bus.read(invocation) { work in
            try await MembershipStore.ofUserWithOrganizations(caller.principalID, after: page.after, limit: page.fetchLimit, on: work)
        }
    }
}
