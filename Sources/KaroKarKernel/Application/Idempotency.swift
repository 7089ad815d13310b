import Crypto
import Foundation
public import KaroKarPostgres
import KaroKarProto
import KaroKarRPC

/// Idempotent use cases (DOMAIN.md section 2, "Idempotency"): a call that carries the
/// `idempotency-key` metadata changes things at most once per caller, tenant and key; a retry
/// with the same key gets the first call's result and changes nothing.
///
/// The key is recorded inside the use case's own transaction, with its result, so "done" and
/// "recorded" cannot come apart. A concurrent retry waits on the key's row until the first call
/// commits (then gets its result) or rolls back (then runs itself). Failed calls change nothing
/// and record nothing: retrying one runs it again. The same key with a different request or
/// method is refused (INVALID_ARGUMENT / `IDEMPOTENCY_KEY_REUSED`).
///
/// Scope of a key: the principal together with the organization it acts for (a user in two
/// organizations has two scopes; one removed from an organization cannot read its old results
/// through the other); for calls without credentials, the request itself (another anonymous
/// caller reusing a key with another request is refused, and one with the same request already
/// knows everything the request says).
public enum Idempotency {
    public static let metadataKey = "idempotency-key"
    static let maximumKeyBytes = 200
    /// Results are stored as JSON of the use case's (domain) result; scopes of the earlier format
    /// (wire responses) had no prefix, so old rows are never read as new ones.
    static let scopeVersion = "v2"

    /// Deletes keys older than `age`; returns how many. Run periodically (a day is plenty).
    @discardableResult
    public static func purge(olderThan age: Duration, pool: PostgresPool) async throws -> Int {
        let seconds = age.components.seconds
        return try await pool.query("""
            DELETE FROM karokar_kernel.idempotency WHERE created_at < clock_timestamp() - make_interval(secs => \(seconds))
            """).affectedRows
    }
}

/// One call's claim on an idempotency key: the key, its scope, the method, the request's hash.
struct IdempotencyClaim: Sendable {
    let scope: String
    let key: String
    let method: String
    let requestHash: PostgresBytes

    /// Nil when the call carries no key; INVALID_ARGUMENT for a malformed one.
    init?(_ context: ServerCallContext, caller: Caller, request: () -> [UInt8]) throws(RPCError) {
        guard let bytes = context.metadata.bytes(for: Idempotency.metadataKey) else { return nil }
        guard (1...Idempotency.maximumKeyBytes).contains(bytes.count), let key = String(validating: bytes, as: UTF8.self) else {
            throw RPCError(
                .invalidArgument, "idempotency-key must be 1 to \(Idempotency.maximumKeyBytes) bytes of UTF-8",
                domainCode: "MALFORMED_IDEMPOTENCY_KEY"
            )
        }
        let hash = Array(SHA256.hash(data: request()))
        let who: String
        switch caller.kind {
        case .anonymous: who = "anonymous:" + hash.prefix(16).map { String($0, radix: 16) }.joined()
        case .user, .serviceAccount, .system:
            who = "\(caller.kind.rawValue):\(caller.principalID.lowercasedString)@\(caller.organizationID.lowercasedString)"
        }
        scope = Idempotency.scopeVersion + ":" + who
        self.key = key
        method = context.path
        requestHash = PostgresBytes(hash)
    }

    /// Claims the key in `work`'s transaction: nil when this call is the first (run it, then
    /// ``record(_:in:)``), else the first call's result.
    func claim<Result: Decodable>(_ type: Result.Type, in work: UnitOfWork) async throws -> Result? {
        let claimed = try await work.query("""
            INSERT INTO karokar_kernel.idempotency (scope, key, method, request_hash)
            VALUES (\(scope), \(key), \(method), \(requestHash)::bytea)
            ON CONFLICT (scope, key) DO NOTHING
            RETURNING 1
            """)
        guard claimed.isEmpty else { return nil }
        let row = try await work.query("""
            SELECT method, request_hash = \(requestHash)::bytea AS same_request, response
            FROM karokar_kernel.idempotency WHERE scope = \(scope) AND key = \(key)
            """).single()
        guard try row.decode(String.self, "method") == method, try row.decode(Bool.self, "same_request"),
              let stored = try row.decode(PostgresBytes?.self, "response")
        else {
            throw RPCError(.invalidArgument, "this idempotency key was used for another request", domainCode: "IDEMPOTENCY_KEY_REUSED")
        }
        return try JSONDecoder().decode(Result.self, from: Data(stored.bytes))
    }

    /// Stores the first call's result with its key, in the same transaction.
    func record<Result: Encodable>(_ result: Result, in work: UnitOfWork) async throws {
        let encoded = PostgresBytes(Array(try JSONEncoder().encode(result)))
        try await work.query("""
            UPDATE karokar_kernel.idempotency SET response = \(encoded)::bytea WHERE scope = \(scope) AND key = \(key)
            """)
    }
}

/// The kernel's own schema, `karokar_kernel`.
public enum KernelMigrations {
    public static let all: [Migration] = [
        Migration(context: "karokar_kernel", version: 1, name: "idempotency", sql: """
            -- Keys of idempotent mutations and the response each first produced. Rows older than the
            -- retention window are purged (see Idempotency); retries come within seconds or minutes.
            CREATE TABLE karokar_kernel.idempotency (
                scope text NOT NULL,
                key text NOT NULL,
                method text NOT NULL,
                request_hash bytea NOT NULL,
                response bytea,
                created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                PRIMARY KEY (scope, key)
            );
            CREATE INDEX idempotency_created ON karokar_kernel.idempotency (created_at);
            """),
        Migration(context: "karokar_kernel", version: 2, name: "server secrets", sql: """
            -- Secrets every server process of one database shares, made once by the first one to
            -- start (the key that authenticates page tokens, so a token made by one instance is
            -- honoured by another behind the load balancer). Never sent to clients.
            CREATE TABLE karokar_kernel.secret (
                name text PRIMARY KEY,
                value bytea NOT NULL CHECK (length(value) >= 32),
                created_at timestamptz NOT NULL DEFAULT clock_timestamp()
            );
            """),
    ]

    /// Every migration of the shared kernel, in order.
    public static let platform: [Migration] = all + EventsMigrations.all
}
