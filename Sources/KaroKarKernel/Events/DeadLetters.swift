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
            SELECT d.consumer, d.seq, d.attempts, coalesce(d.last_error, '') AS last_error, o.envelope,
                   o.event_id::text AS event_id, o.event_type, o.aggregate_type, o.aggregate_id
            FROM karokar_events.delivery AS d JOIN karokar_events.outbox AS o ON o.seq = d.seq
            WHERE d.state = 'dead' AND (\(consumer)::text IS NULL OR d.consumer = \(consumer)) AND d.seq > \(after)
            ORDER BY d.seq, d.consumer LIMIT \(min(max(limit, 1), 1000))
            """)
        return try rows.map { row in
            Letter(
                consumer: try row.decode(String.self, "consumer"), seq: try row.decode(Int64.self, "seq"),
                attempts: try row.decode(Int.self, "attempts"), lastError: try row.decode(String.self, "last_error"),
                envelope: try Self.envelope(row)
            )
        }
    }

    /// The letter's envelope; for one that does not decode (an event parked for that very reason),
    /// what its outbox row says of it, so that one malformed event cannot hide the others.
    static func envelope(_ row: PostgresRow) throws -> EventsV1.EventEnvelope {
        if let envelope = try? ProtoCodec.decode(EventsV1.EventEnvelope.self, from: try row.decode(PostgresBytes.self, "envelope").bytes) {
            return envelope
        }
        var envelope = EventsV1.EventEnvelope()
        envelope.eventId = try row.decode(String.self, "event_id")
        envelope.eventType = try row.decode(String.self, "event_type")
        envelope.aggregateType = try row.decode(String.self, "aggregate_type")
        envelope.aggregateId = try row.decode(String.self, "aggregate_id")
        return envelope
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

    /// The dead delivery an operator acted on, in the operator's unit of work.
    public struct Acted: Sendable, Hashable, Codable {
        public let consumer: String
        public let seq: Int64
        public let eventID: String
        public let eventType: String
    }

    /// ``replay(consumer:seq:)`` in `work`, which also publishes `events.dead_letter_replayed`
    /// (so the operator's act is audited like any business action). Nil if there is no such
    /// dead delivery (nothing changes).
    public static func replay(consumer: String, seq: Int64, _ work: UnitOfWork) async throws -> Acted? {
        let rows = try await work.query("""
            UPDATE karokar_events.delivery AS d SET state = 'pending', attempts = 0, available_at = clock_timestamp(), leased_by = NULL
            FROM karokar_events.outbox AS o
            WHERE d.consumer = \(consumer) AND d.seq = \(seq) AND d.state = 'dead' AND o.seq = d.seq
            RETURNING o.event_id::text AS event_id, o.event_type
            """)
        guard !rows.isEmpty else { return nil }
        let row = rows[0]
        let acted = Acted(consumer: consumer, seq: seq, eventID: try row.decode(String.self, "event_id"), eventType: try row.decode(String.self, "event_type"))
        try await work.query("SELECT pg_notify(\(EventBus.channel), '')")  // sent at commit
        try await work.publish(EventDraft(
            "events.dead_letter_replayed", aggregateType: "dead_letter", aggregateID: "\(consumer):\(seq)",
            payload: .deadLetterReplayed(EventsV1.DeadLetterReplayed(consumer: consumer, sequence: seq, eventId: acted.eventID, eventType: acted.eventType))
        ))
        return acted
    }

    /// ``discard(consumer:seq:)`` in `work`, which also publishes `events.dead_letter_discarded`.
    /// Nil if there is no such dead delivery (nothing changes).
    public static func discard(consumer: String, seq: Int64, _ work: UnitOfWork) async throws -> Acted? {
        let rows = try await work.query("""
            DELETE FROM karokar_events.delivery AS d USING karokar_events.outbox AS o
            WHERE d.consumer = \(consumer) AND d.seq = \(seq) AND d.state = 'dead' AND o.seq = d.seq
            RETURNING o.event_id::text AS event_id, o.event_type
            """)
        guard !rows.isEmpty else { return nil }
        let row = rows[0]
        let acted = Acted(consumer: consumer, seq: seq, eventID: try row.decode(String.self, "event_id"), eventType: try row.decode(String.self, "event_type"))
        try await work.query("SELECT pg_notify(\(EventBus.channel), '')")
        try await work.publish(EventDraft(
            "events.dead_letter_discarded", aggregateType: "dead_letter", aggregateID: "\(consumer):\(seq)",
            payload: .deadLetterDiscarded(EventsV1.DeadLetterDiscarded(consumer: consumer, sequence: seq, eventId: acted.eventID, eventType: acted.eventType))
        ))
        return acted
    }
}
