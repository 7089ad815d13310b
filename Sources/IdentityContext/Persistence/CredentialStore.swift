import Foundation
import KaroKarKernel
import KaroKarPostgres

/// Refresh tokens, failed-login counts and the development signing key.
enum CredentialStore {
    // MARK: - Refresh tokens

    struct RefreshGrant: Sendable {
        var membershipID: UUID
        var userID: UUID
        var familyID: UUID
    }

    /// A new refresh token (its secret, returned once) and its expiry.
    static func issueRefreshToken(
        _ grant: RefreshGrant, lifetime: Duration, on database: some Queryable
    ) async throws -> (String, Instant) {
        let secret = OpaqueSecret.generate()
        let expires = try await database.query("""
            INSERT INTO identity.refresh_tokens (token_hash, family_id, membership_id, user_id, expires_at)
            VALUES (\(PostgresBytes(OpaqueSecret.digest(secret)))::bytea, \(grant.familyID), \(grant.membershipID), \(grant.userID),
                    clock_timestamp() + make_interval(secs => \(lifetime.components.seconds)))
            RETURNING expires_at
            """).single().decode(Instant.self, "expires_at")
        return (secret, expires)
    }

    /// Uses a refresh token up. A token that was already used revokes its whole family (someone
    /// replayed it: the thief or the owner, and we cannot tell which), and the family's session
    /// ends: `.replayed` names its membership, whose access tokens must stop working.
    static func consumeRefreshToken(_ secret: String, on work: UnitOfWork) async throws -> RefreshUse {
        let digest = PostgresBytes(OpaqueSecret.digest(secret))
        let used = try await work.query("""
            UPDATE identity.refresh_tokens SET used_at = clock_timestamp()
            WHERE token_hash = \(digest)::bytea AND used_at IS NULL AND revoked_at IS NULL AND expires_at > clock_timestamp()
            RETURNING membership_id, user_id, family_id
            """)
        if let row = used.first(where: { _ in true }) {
            return .granted(RefreshGrant(
                membershipID: try row.decode(UUID.self, "membership_id"), userID: try row.decode(UUID.self, "user_id"),
                familyID: try row.decode(UUID.self, "family_id")
            ))
        }
        let revoked = try await work.query("""
            UPDATE identity.refresh_tokens SET revoked_at = clock_timestamp()
            WHERE revoked_at IS NULL
              AND family_id = (SELECT family_id FROM identity.refresh_tokens WHERE token_hash = \(digest)::bytea AND used_at IS NOT NULL)
            RETURNING membership_id
            """)
        guard let row = revoked.first(where: { _ in true }) else { return .refused }
        return .replayed(membership: try row.decode(UUID.self, "membership_id"))
    }

    enum RefreshUse: Sendable {
        case granted(RefreshGrant)
        case replayed(membership: UUID)
        case refused
    }

    /// Logout: ends the session (the refresh-token family) of `secret` if it is the user's;
    /// its membership, or nil when there was no such live token.
    static func endSession(_ secret: String, user: UUID, on work: UnitOfWork) async throws -> UUID? {
        try await work.query("""
            UPDATE identity.refresh_tokens SET revoked_at = clock_timestamp()
            WHERE revoked_at IS NULL AND family_id = (
                SELECT family_id FROM identity.refresh_tokens
                WHERE token_hash = \(PostgresBytes(OpaqueSecret.digest(secret)))::bytea AND user_id = \(user) AND revoked_at IS NULL
            )
            RETURNING membership_id
            """).first { _ in true }.map { try $0.decode(UUID.self, "membership_id") }
    }

    /// Ends every session of the user (a password change, a disabled user).
    static func revokeRefreshTokens(user: UUID, on database: some Queryable) async throws {
        try await database.query("""
            UPDATE identity.refresh_tokens SET revoked_at = clock_timestamp()
            WHERE user_id = \(user) AND used_at IS NULL AND revoked_at IS NULL
            """)
    }

    static func revokeRefreshTokens(membership: UUID, on database: some Queryable) async throws {
        try await database.query("""
            UPDATE identity.refresh_tokens SET revoked_at = clock_timestamp()
            WHERE membership_id = \(membership) AND used_at IS NULL AND revoked_at IS NULL
            """)
    }

    /// The membership's sessions ended within `within` (a family ends when its live token is
    /// revoked; the tokens of one ended longer ago have expired).
    static func endedSessions(membership: UUID, within: Duration, on database: some Queryable) async throws -> Set<UUID> {
        Set(try await database.query("""
            SELECT DISTINCT family_id FROM identity.refresh_tokens
            WHERE membership_id = \(membership) AND revoked_at > clock_timestamp() - make_interval(secs => \(within.components.seconds))
            """).map { try $0.decode(UUID.self, "family_id") })
    }

    // MARK: - Failed logins

    /// The pair's lock and the account's failures from every address within the throttle's window.
    static func standing(
        _ account: LoginAccount, from client: ClientAddress, throttle: LoginThrottle, on database: some Queryable
    ) async throws -> LoginStanding {
        let row = try await database.query("""
            SELECT
                EXISTS (SELECT 1 FROM identity.login_failures WHERE account = \(PostgresBytes(account.digest))::bytea AND client = \(client.key)
                        AND locked_until > clock_timestamp()) AS locked,
                (SELECT coalesce(sum(failures), 0) FROM identity.login_failures WHERE account = \(PostgresBytes(account.digest))::bytea
                        AND last_failure_at > clock_timestamp() - make_interval(secs => \(throttle.slowDownWindow.components.seconds))) AS recent
            """).single()
        return LoginStanding(locked: try row.decode(Bool.self, "locked"), recentFailures: Int(clamping: try row.decode(Int64.self, "recent")))
    }

    /// Counts a failure of the pair and locks it as `throttle` says; returns the lock (zero:
    /// none). Forgets a few pairs quiet for a day on the way, so the table keeps no more than a
    /// day of failures.
    @discardableResult
    static func recordFailure(
        _ account: LoginAccount, from client: ClientAddress, throttle: LoginThrottle, on work: UnitOfWork
    ) async throws -> Duration {
        let failures = try await work.query("""
            INSERT INTO identity.login_failures (account, client, failures) VALUES (\(PostgresBytes(account.digest))::bytea, \(client.key), 1)
            ON CONFLICT (account, client) DO UPDATE
                SET failures = least(identity.login_failures.failures, 1000000) + 1, last_failure_at = clock_timestamp()
            RETURNING failures
            """).single().decode(Int.self, "failures")
        try await work.query("""
            DELETE FROM identity.login_failures WHERE (account, client) IN (
                SELECT account, client FROM identity.login_failures
                WHERE last_failure_at < clock_timestamp() - interval '1 day' AND coalesce(locked_until < clock_timestamp(), true)
                LIMIT 16
            )
            """)
        let lock = throttle.lock(afterFailures: failures)
        guard lock > .zero else { return .zero }
        try await work.query("""
            UPDATE identity.login_failures SET locked_until = clock_timestamp() + make_interval(secs => \(lock.components.seconds))
            WHERE account = \(PostgresBytes(account.digest))::bytea AND client = \(client.key)
            """)
        return lock
    }

    static func clearFailures(_ account: LoginAccount, from client: ClientAddress, on database: some Queryable) async throws {
        try await database.query("""
            DELETE FROM identity.login_failures WHERE account = \(PostgresBytes(account.digest))::bytea AND client = \(client.key)
            """)
    }

    // MARK: - Development signing key

    /// The key generated for `algorithm` (its JWS name) by the first instance that needed one.
    static func developmentKey(_ algorithm: String, generated: [UInt8], on database: some Queryable) async throws -> [UInt8] {
        try await database.query("""
            INSERT INTO identity.signing_keys (algorithm, key_material) VALUES (\(algorithm), \(PostgresBytes(generated))::bytea)
            ON CONFLICT (algorithm) DO NOTHING
            """)
        return try await database.query("SELECT key_material FROM identity.signing_keys WHERE algorithm = \(algorithm)")
            .single().decode(PostgresBytes.self, "key_material").bytes
    }
}
