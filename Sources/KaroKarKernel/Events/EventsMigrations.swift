public import KaroKarPostgres

/// The events platform's schema, `karokar_events`: the outbox (every event ever published, in
/// commit-independent `seq` order), pending deliveries per consumer, and what each consumer has
/// processed (its idempotency record).
public enum EventsMigrations {
    public static let all: [Migration] = [
        Migration(context: "karokar_events", version: 1, name: "outbox", sql: """
            CREATE TABLE karokar_events.outbox (
                seq bigserial PRIMARY KEY,
                event_id uuid NOT NULL UNIQUE,
                event_type text NOT NULL,
                aggregate_type text NOT NULL,
                aggregate_id text NOT NULL,
                organization_id uuid,
                occurred_at timestamptz NOT NULL,
                recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                envelope bytea NOT NULL
            );
            CREATE INDEX outbox_aggregate ON karokar_events.outbox (aggregate_type, aggregate_id, seq);

            -- One row per (consumer, event) until the consumer has handled it; then it is deleted in
            -- the consumer's own transaction. 'dead' rows wait for an operator.
            CREATE TABLE karokar_events.delivery (
                consumer text NOT NULL,
                seq bigint NOT NULL REFERENCES karokar_events.outbox (seq),
                aggregate_key text NOT NULL,
                state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),
                attempts int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                available_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                leased_by text,
                last_error text,
                PRIMARY KEY (consumer, seq)
            );
            CREATE INDEX delivery_due ON karokar_events.delivery (consumer, seq) WHERE state = 'pending';
            CREATE INDEX delivery_aggregate ON karokar_events.delivery (consumer, aggregate_key, seq);

            CREATE TABLE karokar_events.processed (
                consumer text NOT NULL,
                event_id uuid NOT NULL,
                processed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                PRIMARY KEY (consumer, event_id)
            );
            """),
        Migration(context: "karokar_events", version: 2, name: "lighter_publishing", sql: """
            -- Every published event adds a delivery row per consumer inside the publisher's
            -- transaction, so each index on delivery and its foreign key cost every publish: these
            -- two made publishing about 18% slower. The primary key (consumer, seq) gives the
            -- claim its rows in order as the partial index did (dead letters are few, and
            -- filtered). The foreign key only guarded against removing events that still have
            -- deliveries; the outbox is append-only instead, enforced here.
            DROP INDEX karokar_events.delivery_due;
            ALTER TABLE karokar_events.delivery DROP CONSTRAINT delivery_seq_fkey;
            CREATE FUNCTION karokar_events.outbox_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'karokar_events.outbox is append-only: deliveries and consumers refer to its events'
                    USING ERRCODE = 'restrict_violation';
            END
            $$;
            CREATE TRIGGER outbox_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON karokar_events.outbox
                FOR EACH STATEMENT EXECUTE FUNCTION karokar_events.outbox_is_append_only();
            """),
        Migration(context: "karokar_events", version: 3, name: "claim_in_order", sql: """
            -- Leases up to p_limit due deliveries of p_consumer, oldest first, skipping any whose
            -- aggregate has an earlier delivery still outstanding (pending, leased elsewhere, or
            -- dead), which keeps each consumer's order per aggregate across any number of relays.
            -- delivery is a queue whose statistics are always stale: with a backlog of 32,000 the
            -- planner, expecting one row, read every pending row, probed each for an earlier one
            -- and sorted them (330 ms a claim, so a relay that fell behind fell further behind).
            -- Without bitmap scans and sorts the only plan walks the primary key in order and stops
            -- at p_limit (4 ms).
            CREATE FUNCTION karokar_events.claim(p_consumer text, p_limit int, p_lease interval, p_owner text)
                RETURNS TABLE (seq bigint, attempts int, aggregate_key text, envelope bytea)
                LANGUAGE plpgsql SET enable_bitmapscan = off SET enable_sort = off AS $$
            #variable_conflict use_column
            BEGIN
                RETURN QUERY
                UPDATE karokar_events.delivery AS d
                SET available_at = clock_timestamp() + p_lease, attempts = d.attempts + 1, leased_by = p_owner
                FROM (
                    SELECT c.consumer, c.seq FROM karokar_events.delivery AS c
                    WHERE c.consumer = p_consumer AND c.state = 'pending' AND c.available_at <= clock_timestamp()
                      AND NOT EXISTS (
                          SELECT 1 FROM karokar_events.delivery AS e
                          WHERE e.consumer = c.consumer AND e.aggregate_key = c.aggregate_key AND e.seq < c.seq)
                    ORDER BY c.seq
                    LIMIT p_limit
                    FOR UPDATE SKIP LOCKED
                ) AS picked, karokar_events.outbox AS o
                WHERE d.consumer = picked.consumer AND d.seq = picked.seq AND o.seq = d.seq
                RETURNING d.seq, d.attempts, d.aggregate_key, o.envelope;
            END
            $$;
            """),
    ]
}
