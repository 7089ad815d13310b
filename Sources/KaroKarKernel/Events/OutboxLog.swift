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
enum OutboxLog {
    /// One step of `consumer`'s log: the events past its cursor up to `safe` (at most `limit`),
    /// the matching ones handed to its batch handler, the cursor moved, in one transaction.
    /// Returns whether the log is read up to `safe`, or nil when another process holds it.
    static func step(_ consumer: EventBus.Subscription, safe: Int64, limit: Int, bus: EventBus) async throws -> Bool? {
        guard let handler = consumer.batchHandler else { return true }
        let journal = Journal()
        defer { if journal.hasDeliveries { bus.committed(journal.consumers) } }
        return try await bus.pool.transaction(durable: false) { session -> Bool? in
            let held = try await session.query("""
                SELECT position FROM karokar_events.consumer WHERE name = \(consumer.name) AND reads = 'log' FOR UPDATE SKIP LOCKED
                """)
            guard !held.isEmpty else { return nil }
            let position = try held[0].decode(Int64.self, "position")
            guard position < safe else { return true }
            let rows = try await session.query("""
                SELECT seq, event_type, envelope, trace_parent FROM karokar_events.outbox
                WHERE seq > \(position)::int8 AND seq <= \(safe)::int8
                ORDER BY seq LIMIT \(limit)::int
                """)
            var last = position
            var events: [EventsV1.EventEnvelope] = []
            var traceParents: [String] = []
            events.reserveCapacity(rows.count)
            for row in rows {
                last = try row.decode(Int64.self, "seq")
                guard consumer.matches(try row.decode(String.self, "event_type")) else { continue }
                events.append(try ProtoCodec.decode(EventsV1.EventEnvelope.self, from: try row.decode(PostgresBytes.self, "envelope").bytes))
                if let parent = try row.decode(String?.self, "trace_parent") { traceParents.append(parent) }
            }
            let readUp = rows.count < limit
            let next = readUp ? safe : last
            if !events.isEmpty {
                let work = UnitOfWork(session: session, origin: .system(), bus: bus, depth: 0, journal: journal)
                if let tracer = bus.pool.configuration.tracer {
                    try await EventRelay.withConsumerSpan(consumer.name, events: events, traceParents: traceParents, tracer: tracer) {
                        try await handler(events, work)
                    }
                } else {
                    try await handler(events, work)
                }
            }
            try await session.query("UPDATE karokar_events.consumer SET position = \(next)::int8 WHERE name = \(consumer.name)")
            // Deliveries of the events passed, written while the consumer took deliveries (before
            // it read the log, or by a process that still ran it so): the log handled them.
            try await session.query("""
                DELETE FROM karokar_events.delivery WHERE consumer = \(consumer.name) AND seq <= \(next)::int8
                """)
            return readUp
        }
    }
}
