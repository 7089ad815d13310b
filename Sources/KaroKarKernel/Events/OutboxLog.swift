import KaroKarMessages
import KaroKarPostgres
import KaroKarProto

/// Log consumers (``EventBus/consumeLog(_:as:from:_:)``, events migration 8): the consumer reads
/// the outbox itself, in `seq` order, up to the horizon, and its cursor (`position` of its
/// `karokar_events.consumer` row) moves in the same transaction as its handler's writes.
///
/// Why it is exact: every event with `seq <= position` was handed to the handler in a committed
/// transaction that also moved the cursor past it (or did not match the consumer's patterns); the
/// cursor never passes the horizon, below which every `seq` belongs to a committed event or to
/// none, ever (``ConsumerCursors``); a step holds the consumer's row lock, so two processes never
/// read the same events. A crash loses the step's handler writes and its cursor move together
/// (the commit does not wait for its WAL flush, like the relay's batches): the events are read
/// again.
///
/// A poison event does not stop the log: when a batch fails for a reason other than the
/// database's availability, its events are read again one at a time, and one that fails alone
/// (its envelope does not decode, or the handler refuses it) is **parked**: written as a dead
/// delivery of the consumer (`karokar_events.delivery`, state `dead`, its error kept), the cursor
/// moving past it in the same transaction. Operators see it with the other dead letters and
/// replay or discard it (`karokar events ...`); a replayed one is handled by the consumer's
/// delivery loop, out of the log's order.
enum OutboxLog {
    /// A step's failure, with the event it is the failure of when the step read one event.
    struct StepFailure: Error, CustomStringConvertible {
        let seq: Int64?
        let error: any Error

        var description: String { "\(error)" }

        /// The database unreachable or a transient conflict: the step is retried, nothing parked.
        var isTransient: Bool {
            if error is CancellationError { return true }
            guard let error = error as? PostgresError else { return false }
            return error.code.isConnectionFailure || error.code.isTransient
        }
    }

    /// One step of `consumer`'s log: the events past its cursor up to `safe` (at most `limit`),
    /// the matching ones handed to its batch handler, the cursor moved, in one transaction.
    /// Returns whether the log is read up to `safe`, or nil when another process holds it.
    static func step(_ consumer: EventBus.Subscription, safe: Int64, limit: Int, bus: EventBus) async throws -> Bool? {
        guard let handler = consumer.batchHandler else { return true }
        let journal = Journal()
        defer { if journal.hasEvents { bus.committed(journal.consumers) } }
        return try await journal.transaction(bus.pool, durable: false) { session -> Bool? in
            let held = try await session.query("""
                SELECT position FROM karokar_events.consumer WHERE name = \(consumer.name) AND reads = 'log' FOR UPDATE SKIP LOCKED
                """)
            guard !held.isEmpty else { return nil }
            let position = try held[0].decode(Int64.self, "position")
            guard position < safe else { return true }
            // Only the matching events leave the database (a consumer of a few types skips the
            // rest there); the cursor still moves past the others.
            let rows = try await session.query(consumer.patterns.contains("*") ? """
                SELECT seq, event_type, envelope, trace_parent FROM karokar_events.outbox
                WHERE seq > \(position)::int8 AND seq <= \(safe)::int8
                ORDER BY seq LIMIT \(limit)::int
                """ : """
                SELECT seq, event_type, envelope, trace_parent FROM karokar_events.outbox
                WHERE seq > \(position)::int8 AND seq <= \(safe)::int8 AND event_type LIKE ANY (\(consumer.patterns.map(\.likePattern))::text[])
                ORDER BY seq LIMIT \(limit)::int
                """)
            var last = position
            var events: [EventsV1.EventEnvelope] = []
            var traceParents: [String] = []
            events.reserveCapacity(rows.count)
            for row in rows {
                last = try row.decode(Int64.self, "seq")
                guard consumer.matches(try row.decode(String.self, "event_type")) else { continue }
                do {
                    events.append(try ProtoCodec.decode(EventsV1.EventEnvelope.self, from: try row.decode(PostgresBytes.self, "envelope").bytes))
                } catch {
                    throw StepFailure(seq: rows.count == 1 ? last : nil, error: error)
                }
                if let parent = try row.decode(String?.self, "trace_parent") { traceParents.append(parent) }
            }
            let readUp = rows.count < limit
            let next = readUp ? safe : last
            if !events.isEmpty {
                let work = UnitOfWork(session: session, origin: .system(), bus: bus, depth: 0, journal: journal)
                do {
                    if let tracer = bus.pool.configuration.tracer {
                        try await EventRelay.withConsumerSpan(consumer.name, events: events, traceParents: traceParents, tracer: tracer) {
                            try await handler(events, work)
                        }
                    } else {
                        try await handler(events, work)
                    }
                } catch {
                    throw StepFailure(seq: rows.count == 1 ? last : nil, error: error)
                }
            }
            do {
                try await session.query("UPDATE karokar_events.consumer SET position = \(next)::int8 WHERE name = \(consumer.name)")
            } catch {
                throw StepFailure(seq: nil, error: error)
            }
            return readUp
        }
    }

    /// Parks the event at `seq`, the next one past `consumer`'s cursor, as a dead delivery with
    /// `error`, and moves the cursor past it. False when the cursor is elsewhere by now (another
    /// process read on) or another process holds the log.
    static func park(_ consumer: EventBus.Subscription, seq: Int64, error: String, pool: PostgresPool) async throws -> Bool {
        try await pool.transaction(durable: false) { session in
            let held = try await session.query("""
                SELECT position FROM karokar_events.consumer WHERE name = \(consumer.name) AND reads = 'log' FOR UPDATE SKIP LOCKED
                """)
            guard !held.isEmpty, try held[0].decode(Int64.self, "position") < seq else { return false }
            try await session.query("""
                INSERT INTO karokar_events.delivery (consumer, seq, aggregate_key, state, attempts, last_error)
                SELECT \(consumer.name), o.seq, o.aggregate_type || ':' || o.aggregate_id, 'dead', 1, \(String(error.prefix(2000)))
                FROM karokar_events.outbox AS o WHERE o.seq = \(seq)::int8
                ON CONFLICT (consumer, seq) DO UPDATE SET state = 'dead', last_error = EXCLUDED.last_error, leased_by = NULL
                """)
            try await session.query("UPDATE karokar_events.consumer SET position = \(seq)::int8 WHERE name = \(consumer.name)")
            return true
        }
    }
}
