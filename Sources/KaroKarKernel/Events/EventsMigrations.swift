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
    ]
}
