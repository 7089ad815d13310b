public import KaroKarMessages
public import KaroKarPostgres
import KaroKarProto

/// Deliveries that failed ``EventRelay/Options/maximumAttempts`` times, for operators: inspect
/// them, replay them (due again at once, attempts reset) or discard them (the consumer never
/// handles that event; later events of its aggregate flow again).
public struct DeadLetters: Sendable {
    public struct Letter: Sendable, Hashable {
        public let consumer: String
        public let seq: Int64
        public let attempts: Int
        public let lastError: String
        public let envelope: EventsV1.EventEnvelope
    }

    let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    /// Oldest first; `consumer` nil for all consumers; only sequence numbers after `after`.
    public func list(consumer: String? = nil, after: Int64 = 0, limit: Int = 100) async throws -> [Letter] {
        let rows = try await pool.query("""
            SELECT d.consumer, d.seq, d.attempts, coalesce(d.last_error, '') AS last_error, o.envelope
            FROM karokar_events.delivery AS d JOIN karokar_events.outbox AS o ON o.seq = d.seq
            WHERE d.state = 'dead' AND (\(consumer)::text IS NULL OR d.consumer = \(consumer)) AND d.seq > \(after)
            ORDER BY d.seq, d.consumer LIMIT \(min(max(limit, 1), 1000))
            """)
        return try rows.map { row in
            Letter(
                consumer: try row.decode(String.self, "consumer"), seq: try row.decode(Int64.self, "seq"),
                attempts: try row.decode(Int.self, "attempts"), lastError: try row.decode(String.self, "last_error"),
                envelope: try ProtoCodec.decode(EventsV1.EventEnvelope.self, from: try row.decode(PostgresBytes.self, "envelope").bytes)
            )
        }
    }

    /// Makes a dead delivery due again now, with a fresh attempt budget. False if there is none.
    @discardableResult
    public func replay(consumer: String, seq: Int64) async throws -> Bool {
        let rows = try await pool.query("""
            UPDATE karokar_events.delivery SET state = 'pending', attempts = 0, available_at = clock_timestamp(), leased_by = NULL
            WHERE consumer = \(consumer) AND seq = \(seq) AND state = 'dead'
            RETURNING 1
            """)
        if !rows.isEmpty { try await pool.query("SELECT pg_notify(\(EventBus.channel), '')") }
        return !rows.isEmpty
    }

    /// Drops a dead delivery for good. False if there is none.
    @discardableResult
    public func discard(consumer: String, seq: Int64) async throws -> Bool {
        let rows = try await pool.query("""
            DELETE FROM karokar_events.delivery WHERE consumer = \(consumer) AND seq = \(seq) AND state = 'dead' RETURNING 1
            """)
        if !rows.isEmpty { try await pool.query("SELECT pg_notify(\(EventBus.channel), '')") }
        return !rows.isEmpty
    }
}
