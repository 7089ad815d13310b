import KaroKarMessages
public import KaroKarPostgres

/// The outbox side of consumers that cannot miss an event (events migration 4): each consumer's
/// registration and cursor, the fan-out that writes the deliveries publishers could not (they did
/// not know the consumer), and retention.
///
/// How the guarantees hold, with any number of server processes, some of which may not know a
/// consumer (a rolling deploy):
///
/// - **Nothing missed.** A publisher writes a delivery for every matching consumer it knows and
///   records, on the event, every consumer it knows (`known_consumers`). Every registered consumer
///   has a cursor (`position`): every event with `seq <= position` has its delivery written or
///   needs none. The fan-out moves the cursor forward, writing a delivery for each matching event
///   whose `known_consumers` lacks the consumer. `seq` values are taken in one order and committed
///   in another, so the cursor never passes the **horizon** (`karokar_events.horizon.safe_seq`):
///   every `seq` at or below it belongs to a committed event or to none, ever (see the
///   migration's comment for the proof with transaction ids and snapshots).
/// - **Order per aggregate.** The claim leases a delivery only when every earlier delivery of its
///   aggregate still outstanding for that consumer is leased in the same claim (an aggregate's
///   run, handled in order; with ``DeadLetterPolicy/wait`` a dead one holds back the rest), and, past the cursor, only when no earlier event of its aggregate still lacks its
///   delivery (an event of a publisher that did not know the consumer, which the fan-out has not
///   reached yet). Events of one aggregate are written by transactions that lock the aggregate,
///   so an earlier event is committed before a later one takes its `seq`.
/// - **Exactly-once effect.** Delivery is at least once: a handler's transaction also deletes
///   the delivery and records the event as processed (`karokar_events.processed`, per consumer
///   and event id), so a second delivery of the same event (an expired lease, a replay) is
///   settled without running the handler. Handlers with effects outside the database must be
///   idempotent on the event id (Audit keeps `event_id` unique as well).
enum ConsumerCursors {
    /// Registers (or refreshes) this process's consumers: their patterns and dead-letter policy;
    /// a consumer new to the database starts at the beginning or at the outbox's current end.
    ///
    /// A consumer that took deliveries and now reads the log (events migration 8) moves its cursor
    /// back before its oldest pending delivery, whose rows go, so it re-reads what it had not
    /// handled (and may re-read some it had: a log consumer's handler is idempotent on event
    /// ids); its dead letters stay.
    static func register(_ consumers: [EventBus.Subscription], pool: PostgresPool) async throws {
        for consumer in consumers {
            let beginning = consumer.start == .beginning
            let reads = consumer.readsLog ? "log" : "deliveries"
            // One statement: the row as it was (locked), the upsert, and, for a consumer switching
            // to the log, its pending deliveries removed (the log reads them again: the cursor
            // moves back before the oldest). Its dead letters stay for operators.
            try await pool.query("""
                WITH previous AS (
                    SELECT k.reads FROM karokar_events.consumer AS k WHERE k.name = \(consumer.name) FOR UPDATE
                ), registered AS (
                    INSERT INTO karokar_events.consumer AS k (name, patterns, position, on_dead, reads)
                    SELECT \(consumer.name), \(consumer.patterns.map(\.description))::text[],
                           CASE WHEN \(beginning)::boolean THEN 0 ELSE (CASE WHEN is_called THEN last_value ELSE 0 END) END,
                           \(consumer.onDeadLetter.rawValue), \(reads)
                    FROM karokar_events.outbox_seq_seq
                    ON CONFLICT (name) DO UPDATE SET patterns = EXCLUDED.patterns, on_dead = EXCLUDED.on_dead, seen_at = clock_timestamp(),
                        reads = EXCLUDED.reads,
                        position = CASE WHEN EXCLUDED.reads = 'log' AND k.reads = 'deliveries'
                                        THEN least(k.position, coalesce((SELECT min(d.seq) - 1 FROM karokar_events.delivery AS d
                                                                         WHERE d.consumer = EXCLUDED.name AND d.state = 'pending'), k.position))
                                        ELSE k.position END
                    RETURNING 1
                )
                DELETE FROM karokar_events.delivery AS d
                WHERE d.consumer = \(consumer.name) AND d.state = 'pending' AND \(consumer.readsLog)::boolean
                  AND (SELECT reads FROM previous) = 'deliveries' AND (SELECT count(*) FROM registered) = 1
                """)
        }
    }

    /// Advances the horizon when it can; returns it.
    static func advanceHorizon(pool: PostgresPool) async throws -> Int64 {
        try await advanceHorizonFully(pool: pool).safe
    }

    /// Advances the horizon when it can; returns it (`safe`) and the last `seq` taken when it
    /// last moved (`pending`, which becomes safe at a later move), and whether a reader should
    /// move it again soon rather than wait for the next commit (`behind`): while `safe < pending`
    /// (events known to be committed or in flight are not yet readable), and when this call
    /// did not move it, because another process or loop was moving it at that moment
    /// (`advance_horizon` skips a locked horizon). Then `pending` is the value from before that
    /// move, and the events committed since are not counted: a reader that took `safe ==
    /// pending` as "caught up" slept until the next commit or poll with them unread (the commit
    /// that woke it had already rung; the fan-out loop moves the horizon concurrently).
    static func advanceHorizonFully(pool: PostgresPool) async throws -> (safe: Int64, pending: Int64, behind: Bool) {
        try await pool.transaction(durable: false) { session in
            let safe = try await session.query("SELECT karokar_events.advance_horizon() AS safe").single().decode(Int64.self, "safe")
            // `moved`: the row version is this transaction's (the function updated it).
            let row = try await session.query("""
                SELECT pending_seq, coalesce(xmin = xid(pg_current_xact_id_if_assigned()), false) AS moved
                FROM karokar_events.horizon WHERE id = 1
                """).single()
            let pending = try row.decode(Int64.self, "pending_seq")
            let moved = try row.decode(Bool.self, "moved")
            return (safe, pending, safe < pending || !moved)
        }
    }

    /// Writes the missing deliveries of up to `limit` events past `consumer`'s cursor, up to
    /// `safe`; returns how many deliveries it wrote, and whether the cursor reached `safe`.
    static func fanOut(consumer: String, safe: Int64, limit: Int, pool: PostgresPool) async throws -> (written: Int, caughtUp: Bool) {
        try await pool.transaction(durable: false) { session in
            let written = try await session.query("""
                SELECT karokar_events.fan_out(\(consumer), \(safe)::int8, \(limit)::int) AS written
                """).single().decode(Int.self, "written")
            let position = try await session.query("""
                SELECT position FROM karokar_events.consumer WHERE name = \(consumer)
                """).single().decode(Int64.self, "position")
            return (max(written, 0), written < 0 || position >= safe)
        }
    }

    /// One retention pass, by one process at a time (a transaction-scoped advisory lock; the
    /// others skip it): deletes up to `batch` rows each of processed records and idempotency
    /// keys older than their windows, and of outbox events older than the outbox's retention
    /// that every registered consumer has passed and no delivery still refers to. Returns the
    /// rows deleted, nil when another process was pruning.
    static func prune(_ retention: EventRelay.Retention, batch: Int, pool: PostgresPool) async throws -> Int? {
        try await pool.transaction(durable: false) { session in
            let locked = try await session.query("SELECT pg_try_advisory_xact_lock(\(Self.pruneLock)::int8) AS locked")
                .single().decode(Bool.self, "locked")
            guard locked else { return nil }
            let processed = try await session.query("""
                WITH doomed AS (
                    SELECT consumer, event_id FROM karokar_events.processed
                    WHERE processed_at < clock_timestamp() - \(retention.processed.postgresInterval)::interval
                    LIMIT \(batch)
                )
                DELETE FROM karokar_events.processed AS p USING doomed
                WHERE p.consumer = doomed.consumer AND p.event_id = doomed.event_id
                """).affectedRows
            let keys = try await session.query("""
                WITH doomed AS (
                    SELECT scope, key FROM karokar_kernel.idempotency
                    WHERE created_at < clock_timestamp() - \(retention.idempotencyKeys.postgresInterval)::interval
                    LIMIT \(batch)
                )
                DELETE FROM karokar_kernel.idempotency AS i USING doomed WHERE i.scope = doomed.scope AND i.key = doomed.key
                """).affectedRows
            let events = try await session.query("""
                SELECT karokar_events.prune_outbox(clock_timestamp() - \(retention.outbox.postgresInterval)::interval, \(batch)::int) AS deleted
                """).single().decode(Int.self, "deleted")
            return processed + keys + events
        }
    }

    /// The advisory lock key of retention passes ("karokar_events.prune").
    static let pruneLock: Int64 = 0x6b6b_6576_7072_6e65
}

/// Operators' view of the consumers (lag) and the public face of the outbox's retention.
public struct EventConsumers: Sendable {
    /// One registered consumer's lag.
    public struct Lag: Sendable, Hashable {
        public let consumer: String
        /// Deliveries waiting (due, retrying or leased).
        public let pending: Int
        /// Deliveries that exhausted their attempts (see ``DeadLetters``).
        public let dead: Int
        /// Seconds since the oldest pending delivery's event was recorded (0 when none), or since
        /// the oldest event the fan-out has not reached, whichever is older.
        public let oldestPendingAgeSeconds: Double
        /// The consumer's cursor, and the last `seq` taken in the outbox: events between the two
        /// have not all been fanned out to it yet.
        public let position: Int64
        public let head: Int64
        public let onDeadLetter: DeadLetterPolicy
        public let patterns: [String]
        /// Seconds since a process last registered it (a consumer no process runs any more still
        /// holds back the outbox's retention; see ``forget(consumer:)``).
        public let lastSeenSecondsAgo: Double
    }

    let pool: PostgresPool

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    /// Every registered consumer, by name.
    public func lag() async throws -> [Lag] {
        let rows = try await pool.query("""
            WITH head AS (SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS head FROM karokar_events.outbox_seq_seq)
            SELECT c.name, c.position, c.on_dead, c.patterns, head.head,
                   extract(epoch FROM clock_timestamp() - c.seen_at)::float8 AS seen_ago,
                   (SELECT count(*) FROM karokar_events.delivery AS d WHERE d.consumer = c.name AND d.state = 'pending')::int8 AS pending,
                   (SELECT count(*) FROM karokar_events.delivery AS d WHERE d.consumer = c.name AND d.state = 'dead')::int8 AS dead,
                   coalesce(extract(epoch FROM clock_timestamp() - least(
                       (SELECT min(o.recorded_at) FROM karokar_events.delivery AS d JOIN karokar_events.outbox AS o ON o.seq = d.seq
                        WHERE d.consumer = c.name AND d.state = 'pending'),
                       (SELECT o.recorded_at FROM karokar_events.outbox AS o WHERE o.seq > c.position
                          AND NOT (c.name = ANY (coalesce(o.known_consumers, '{}'))) ORDER BY o.seq LIMIT 1)
                   )), 0)::float8 AS age
            FROM karokar_events.consumer AS c, head
            ORDER BY c.name
            """)
        return try rows.map { row in
            Lag(
                consumer: try row.decode(String.self, "name"), pending: try row.decode(Int.self, "pending"),
                dead: try row.decode(Int.self, "dead"), oldestPendingAgeSeconds: max(0, try row.decode(Double.self, "age")),
                position: try row.decode(Int64.self, "position"), head: try row.decode(Int64.self, "head"),
                onDeadLetter: DeadLetterPolicy(rawValue: try row.decode(String.self, "on_dead")) ?? .wait,
                patterns: try row.decode([String].self, "patterns"), lastSeenSecondsAgo: try row.decode(Double.self, "seen_ago")
            )
        }
    }

    /// Removes a consumer no process runs any more (its deliveries and processed records too), so
    /// that it stops holding back the outbox's retention. False if there is none. A process that
    /// still runs it registers it again, from its declared start.
    @discardableResult
    public func forget(consumer: String) async throws -> Bool {
        try await pool.transaction { session in
            try await session.query("DELETE FROM karokar_events.delivery WHERE consumer = \(consumer)")
            try await session.query("DELETE FROM karokar_events.processed WHERE consumer = \(consumer)")
            return try await session.query("DELETE FROM karokar_events.consumer WHERE name = \(consumer) RETURNING 1").count == 1
        }
    }

    /// ``forget(consumer:)`` in `work`, which also publishes `events.consumer_forgotten`: the
    /// deliveries dropped, nil if no process ever registered `consumer` (nothing changes).
    /// The caller refuses consumers its own process runs (``EventBus/registeredConsumerNames``).
    public static func forget(consumer: String, _ work: UnitOfWork) async throws -> Int64? {
        guard try await work.query("SELECT 1 FROM karokar_events.consumer WHERE name = \(consumer) FOR UPDATE").count == 1 else { return nil }
        let dropped = try await work.query("""
            WITH gone AS (DELETE FROM karokar_events.delivery WHERE consumer = \(consumer) RETURNING 1) SELECT count(*)::int8 AS n FROM gone
            """).single().decode(Int64.self, "n")
        try await work.query("DELETE FROM karokar_events.processed WHERE consumer = \(consumer)")
        try await work.query("DELETE FROM karokar_events.consumer WHERE name = \(consumer)")
        try await work.publish(EventDraft(
            "events.consumer_forgotten", aggregateType: "consumer", aggregateID: consumer,
            payload: .consumerForgotten(EventsV1.ConsumerForgotten(consumer: consumer, deliveriesDropped: dropped))
        ))
        return dropped
    }
}
