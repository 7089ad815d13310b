import Foundation
import KaroKarMessages
import KaroKarPostgres
import KaroKarProto

/// The outbox's SQL, in one place: appending events with their deliveries, claiming deliveries
/// for a consumer, settling them.
enum OutboxStore {
    /// One statement, the event and a delivery per consumer, sent with the transaction's next
    /// statement or its commit (``PostgresSession/enqueue(_:)``): nothing in the transaction
    /// reads them back, and a failure still fails the transaction. No NOTIFY here: a transaction
    /// that notifies holds PostgreSQL's notification lock through its commit, which serializes
    /// every publishing commit (and defeats group commit); relays are woken after commit instead
    /// (``EventBus/committed()``).
    ///
    /// `known` is every consumer this process knows (matching or not): the fan-out writes the
    /// deliveries of consumers not in it.
    static func append(_ envelope: EventsV1.EventEnvelope, consumers: [String], known: [String], session: PostgresSession) {
        let occurred = envelope.occurredAt.map { PostgresTimestamp(seconds: $0.seconds, nanos: $0.nanos) } ?? PostgresTimestamp(seconds: 0)
        let organization = envelope.organizationId.isEmpty ? nil : envelope.organizationId
        if let traceParent = session.currentTraceparent {
            appendTraced(envelope, traceParent: traceParent, consumers: consumers, known: known, session: session)
            return
        }
        session.enqueue("""
            WITH event AS (
                INSERT INTO karokar_events.outbox
                    (event_id, event_type, aggregate_type, aggregate_id, organization_id, occurred_at, envelope, known_consumers)
                VALUES (\(envelope.eventId)::uuid, \(envelope.eventType), \(envelope.aggregateType), \(envelope.aggregateId),
                        \(organization)::uuid, \(occurred)::timestamptz, \(PostgresBytes(ProtoCodec.encode(envelope)))::bytea,
                        \(known)::text[])
                RETURNING seq
            ), deliveries AS (
                INSERT INTO karokar_events.delivery (consumer, seq, aggregate_key)
                SELECT consumer, event.seq, \(envelope.aggregateType + ":" + envelope.aggregateId)
                FROM event, unnest(\(consumers)::text[]) AS consumer
            )
            SELECT 1
            """)
    }

    /// ``append(_:consumers:known:session:)`` inside a traced call: with the call's
    /// `traceparent` (events migration 5). A statement of its own, so that the untraced one
    /// stays as it was.
    private static func appendTraced(
        _ envelope: EventsV1.EventEnvelope, traceParent: String, consumers: [String], known: [String], session: PostgresSession
    ) {
        let occurred = envelope.occurredAt.map { PostgresTimestamp(seconds: $0.seconds, nanos: $0.nanos) } ?? PostgresTimestamp(seconds: 0)
        let organization = envelope.organizationId.isEmpty ? nil : envelope.organizationId
        session.enqueue("""
            WITH event AS (
                INSERT INTO karokar_events.outbox
                    (event_id, event_type, aggregate_type, aggregate_id, organization_id, occurred_at, envelope, known_consumers, trace_parent)
                VALUES (\(envelope.eventId)::uuid, \(envelope.eventType), \(envelope.aggregateType), \(envelope.aggregateId),
                        \(organization)::uuid, \(occurred)::timestamptz, \(PostgresBytes(ProtoCodec.encode(envelope)))::bytea,
                        \(known)::text[], \(String(traceParent.prefix(128))))
                RETURNING seq
            ), deliveries AS (
                INSERT INTO karokar_events.delivery (consumer, seq, aggregate_key)
                SELECT consumer, event.seq, \(envelope.aggregateType + ":" + envelope.aggregateId)
                FROM event, unnest(\(consumers)::text[]) AS consumer
            )
            SELECT 1
            """)
    }

    /// The `traceparent`s the publishing calls left on claimed events (only read when the relay traces).
    static func traceParents(of claimed: [Claimed], pool: PostgresPool) async throws -> [Int64: String] {
        let rows = try await pool.query("""
            SELECT seq, trace_parent FROM karokar_events.outbox
            WHERE seq = ANY(\(claimed.map(\.seq))::int8[]) AND trace_parent IS NOT NULL
            """)
        var parents: [Int64: String] = [:]
        for row in rows { parents[try row.decode(Int64.self, "seq")] = try row.decode(String.self, "trace_parent") }
        return parents
    }

    /// A delivery leased to this relay.
    struct Claimed: Sendable {
        let seq: Int64
        let attempts: Int
        let aggregateKey: String
        let envelope: EventsV1.EventEnvelope
    }

    /// Leases up to `limit` due deliveries of `consumer`, oldest first: of each aggregate, its run
    /// of consecutive due deliveries from the first outstanding one, none while an earlier one is
    /// leased elsewhere, backing off, or dead (with ``DeadLetterPolicy/wait``). The batch handles
    /// them in `seq` order and a failure holds back the rest of its aggregate's run, so each
    /// consumer sees each aggregate in order across any number of relays. The statement is the
    /// database function `karokar_events.claim` (events migration 6: claims of one consumer
    /// serialized, its plan pinned, a run with a gap cut at the gap).
    static func claim(consumer: String, limit: Int, lease: Duration, owner: String, pool: PostgresPool) async throws -> [Claimed] {
        let rows = try await pool.query("""
            SELECT seq, attempts, aggregate_key, envelope
            FROM karokar_events.claim(\(consumer), \(limit)::int, \(lease.postgresInterval)::interval, \(owner))
            """)
        var claimed: [Claimed] = []
        var malformed: [Int64] = []
        for row in rows {
            let seq = try row.decode(Int64.self, "seq")
            guard let envelope = try? ProtoCodec.decode(EventsV1.EventEnvelope.self, from: try row.decode(PostgresBytes.self, "envelope").bytes) else {
                malformed.append(seq)
                continue
            }
            claimed.append(Claimed(
                seq: seq, attempts: try row.decode(Int.self, "attempts"), aggregateKey: try row.decode(String.self, "aggregate_key"),
                envelope: envelope
            ))
        }
        if !malformed.isEmpty {
            // No handler can take an event whose envelope does not decode (written by hand or by
            // a bug): dead at once, for operators, instead of failing every claim that meets it.
            try await pool.query("""
                UPDATE karokar_events.delivery SET state = 'dead', leased_by = NULL,
                    last_error = 'the event''s envelope is not a valid EventEnvelope'
                WHERE consumer = \(consumer) AND seq = ANY(\(malformed)::int8[])
                """)
        }
        return claimed.sorted { $0.seq < $1.seq }
    }

    /// Settles a delivery inside the consumer's transaction: removes it and records the event as
    /// processed. False when the event was already processed (or settled by another relay whose
    /// lease this one outlived): the handler must not run again.
    static func settle(_ claimed: Claimed, consumer: String, session: PostgresSession) async throws -> Bool {
        let rows = try await session.query("""
            WITH settled AS (
                DELETE FROM karokar_events.delivery WHERE consumer = \(consumer) AND seq = \(claimed.seq) RETURNING 1
            )
            INSERT INTO karokar_events.processed (consumer, event_id)
            SELECT \(consumer), \(claimed.envelope.eventId)::uuid FROM settled
            ON CONFLICT DO NOTHING
            RETURNING 1
            """)
        return rows.count == 1
    }

    /// ``settle(_:consumer:session:)`` for a whole batch in one statement; returns the sequence
    /// numbers whose handlers must run (the others were processed already).
    static func settle(_ batch: [Claimed], consumer: String, session: PostgresSession) async throws -> Set<Int64> {
        let rows = try await session.query("""
            WITH settled AS (
                DELETE FROM karokar_events.delivery AS d USING karokar_events.outbox AS o
                WHERE d.consumer = \(consumer) AND d.seq = ANY(\(batch.map(\.seq))::int8[]) AND o.seq = d.seq
                RETURNING d.seq, o.event_id
            ), fresh AS (
                INSERT INTO karokar_events.processed (consumer, event_id)
                SELECT \(consumer), event_id FROM settled
                ON CONFLICT DO NOTHING
                RETURNING event_id
            )
            SELECT settled.seq FROM settled JOIN fresh USING (event_id)
            """)
        return Set(try rows.map { try $0.decode(Int64.self, "seq") })
    }

    /// Records a failed attempt: due again after `retryAfter`, or dead once `maximumAttempts` ran.
    static func fail(_ claimed: Claimed, consumer: String, error: String, retryAfter: Duration, maximumAttempts: Int, pool: PostgresPool) async throws {
        try await pool.query("""
            UPDATE karokar_events.delivery
            SET state = CASE WHEN attempts >= \(maximumAttempts) THEN 'dead' ELSE 'pending' END,
                available_at = clock_timestamp() + \(retryAfter.postgresInterval)::interval,
                last_error = \(String(error.prefix(2000))), leased_by = NULL
            WHERE consumer = \(consumer) AND seq = \(claimed.seq)
            """)
    }

    /// Gives leased deliveries back at once (not attempted in this batch).
    static func release(_ seqs: [Int64], consumer: String, pool: PostgresPool) async throws {
        guard !seqs.isEmpty else { return }
        try await pool.query("""
            UPDATE karokar_events.delivery SET available_at = clock_timestamp(), attempts = attempts - 1, leased_by = NULL
            WHERE consumer = \(consumer) AND seq = ANY(\(seqs)::int8[])
            """)
    }
}

extension Duration {
    /// `'1.5 seconds'`-style text for an `interval` bind.
    var postgresInterval: String {
        "\(wholeMicroseconds) microseconds"
    }
}
