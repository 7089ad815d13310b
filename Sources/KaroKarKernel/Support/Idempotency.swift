import Foundation
public import KaroKarPostgres
public import KaroKarProto
public import KaroKarRPC

/// Idempotent mutations (DOMAIN.md section 2, "Idempotency"): a call that carries the
/// `idempotency-key` metadata runs its unit of work at most once per caller and key; a retry with
/// the same key gets the first call's response, and changes nothing.
///
/// The key is recorded inside the mutation's own transaction, with its response, so "done" and
/// "recorded" cannot come apart. A concurrent retry waits on the key's row until the first call
/// commits (then answers its response) or rolls back (then runs itself). Failed calls change
/// nothing and record nothing: retrying one runs it again. The same key with a different request
/// or method is refused (INVALID_ARGUMENT / `IDEMPOTENCY_KEY_REUSED`).
public enum Idempotency {
    public static let metadataKey = "idempotency-key"
    static let maximumKeyBytes = 200

    /// Runs `body` through the bus's unit of work, honouring the call's idempotency key.
    public static func mutation<Request: ProtoMessage, Response: ProtoMessage>(
        _ context: ServerCallContext, request: Request, bus: EventBus, origin: EventOrigin,
        isolation: IsolationLevel = .readCommitted, _ body: (UnitOfWork) async throws -> Response
    ) async throws -> Response {
        guard let key = try idempotencyKey(context) else {
            return try await bus.transaction(origin, isolation: isolation, body)
        }
        let scope = context.caller.map { "\($0.kind.rawValue):\($0.principalID.lowercasedString)" } ?? "anonymous"
        let requestBytes = PostgresBytes(ProtoCodec.encode(request))
        return try await bus.transaction(origin, isolation: isolation) { work in
            let claimed = try await work.query("""
                INSERT INTO karokar_kernel.idempotency (scope, key, method, request_hash)
                VALUES (\(scope), \(key), \(context.path), sha256(\(requestBytes)::bytea))
                ON CONFLICT (scope, key) DO NOTHING
                RETURNING 1
                """)
            if claimed.isEmpty {
                return try await storedResponse(Response.self, scope: scope, key: key, path: context.path, request: requestBytes, work: work)
            }
            let response = try await body(work)
            try await work.query("""
                UPDATE karokar_kernel.idempotency SET response = \(PostgresBytes(ProtoCodec.encode(response)))::bytea
                WHERE scope = \(scope) AND key = \(key)
                """)
            return response
        }
    }

    /// Deletes keys older than `age`; returns how many. Run periodically (a day is plenty).
    @discardableResult
    public static func purge(olderThan age: Duration, pool: PostgresPool) async throws -> Int {
        let seconds = age.components.seconds
        return try await pool.query("""
            DELETE FROM karokar_kernel.idempotency WHERE created_at < clock_timestamp() - make_interval(secs => \(seconds))
            """).affectedRows
    }

    private static func idempotencyKey(_ context: ServerCallContext) throws(RPCError) -> String? {
        guard let bytes = context.metadata.bytes(for: metadataKey) else { return nil }
        guard (1...maximumKeyBytes).contains(bytes.count), let key = String(validating: bytes, as: UTF8.self) else {
            throw RPCError(.invalidArgument, "idempotency-key must be 1 to \(maximumKeyBytes) bytes of UTF-8", domainCode: "MALFORMED_IDEMPOTENCY_KEY")
        }
        return key
    }

    private static func storedResponse<Response: ProtoMessage>(
        _ type: Response.Type, scope: String, key: String, path: String, request: PostgresBytes, work: UnitOfWork
    ) async throws -> Response {
        let row = try await work.query("""
            SELECT method, request_hash = sha256(\(request)::bytea) AS same_request, response
            FROM karokar_kernel.idempotency WHERE scope = \(scope) AND key = \(key)
            """).single()
        guard try row.decode(String.self, "method") == path, try row.decode(Bool.self, "same_request"),
              let response = try row.decode(PostgresBytes?.self, "response")
        else {
            throw RPCError(.invalidArgument, "this idempotency key was used for another request", domainCode: "IDEMPOTENCY_KEY_REUSED")
        }
        return try ProtoCodec.decode(Response.self, from: response.bytes)
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
    ]

    /// Every migration of the shared kernel, in order.
    public static let platform: [Migration] = all + EventsMigrations.all
}
