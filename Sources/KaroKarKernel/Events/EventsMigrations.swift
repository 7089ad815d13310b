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
        Migration(context: "karokar_events", version: 4, name: "consumer_cursors_fan_out_retention", sql: """
            -- Consumers registered after events were published (a new context; a rolling deploy in
            -- which older processes do not know the consumer) still receive every event from their
            -- start position. Publishers keep writing a delivery per matching consumer they know,
            -- and now also the names of every consumer they know (known_consumers); a fan-out job
            -- walks each registered consumer's cursor over the outbox and writes the deliveries
            -- the publishers could not (events whose known_consumers lack the consumer).
            ALTER TABLE karokar_events.outbox ADD COLUMN known_consumers text[];

            -- Commit order is not seq order: a transaction may take seq 10 and commit after the one
            -- that took seq 11. A cursor must never pass a seq that may still commit. Every seq
            -- is now taken by a transaction that already has its transaction id (next_seq assigns
            -- it first), so: read the sequence's last value L, then take a snapshot S; every
            -- transaction that took a seq <= L is finished or running in S, hence finished once
            -- the oldest running transaction (xmin) is at or past S's xmax. The horizon row keeps
            -- such a pair (pending_seq, pending_xmax) until that holds, then publishes pending_seq
            -- as safe_seq: every event with seq <= safe_seq is committed or never will be.
            CREATE FUNCTION karokar_events.next_seq() RETURNS bigint LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_current_xact_id();
                RETURN nextval('karokar_events.outbox_seq_seq');
            END
            $$;
            ALTER TABLE karokar_events.outbox ALTER COLUMN seq SET DEFAULT karokar_events.next_seq();

            CREATE TABLE karokar_events.horizon (
                id int PRIMARY KEY CHECK (id = 1),
                safe_seq bigint NOT NULL,
                pending_seq bigint NOT NULL,
                pending_xmax xid8 NOT NULL
            );
            INSERT INTO karokar_events.horizon VALUES (1, 0, 0, '0'::xid8);

            -- Advances the horizon when it can (see above); returns safe_seq. Any process may call
            -- it at any time; the row lock serializes the callers (one that finds it locked just
            -- reads).
            CREATE FUNCTION karokar_events.advance_horizon() RETURNS bigint LANGUAGE plpgsql AS $$
            DECLARE
                h karokar_events.horizon;
                v_last bigint;
                v_xmax xid8;
            BEGIN
                SELECT * INTO h FROM karokar_events.horizon WHERE id = 1 FOR UPDATE SKIP LOCKED;
                IF NOT FOUND THEN
                    RETURN (SELECT safe_seq FROM karokar_events.horizon WHERE id = 1);
                END IF;
                IF pg_snapshot_xmin(pg_current_snapshot()) < h.pending_xmax THEN
                    RETURN h.safe_seq;
                END IF;
                -- The order matters: the sequence first, then (a later statement, a later
                -- snapshot) the transaction horizon.
                SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO v_last FROM karokar_events.outbox_seq_seq;
                SELECT pg_snapshot_xmax(pg_current_snapshot()) INTO v_xmax;
                UPDATE karokar_events.horizon SET safe_seq = h.pending_seq, pending_seq = v_last, pending_xmax = v_xmax WHERE id = 1;
                RETURN h.pending_seq;
            END
            $$;

            -- Every consumer any process registered: its patterns, where its cursor stands (every
            -- event with seq <= position has its delivery written, or needs none), and what a
            -- dead letter does to the later events of its aggregate ('wait' or 'proceed').
            CREATE TABLE karokar_events.consumer (
                name text PRIMARY KEY,
                patterns text[] NOT NULL,
                position bigint NOT NULL CHECK (position >= 0),
                on_dead text NOT NULL CHECK (on_dead IN ('wait', 'proceed')),
                registered_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                seen_at timestamptz NOT NULL DEFAULT clock_timestamp()
            );

            -- Writes up to p_limit events' missing deliveries for p_consumer, from its cursor up to
            -- the horizon, and moves the cursor. One caller per consumer at a time (row lock,
            -- skipped when taken). Returns the deliveries written, or -1 when another caller holds
            -- the consumer.
            CREATE FUNCTION karokar_events.fan_out(p_consumer text, p_safe bigint, p_limit int) RETURNS int
                LANGUAGE plpgsql AS $$
            DECLARE
                c karokar_events.consumer;
                v_last bigint;
                v_count int;
                v_written int;
                v_like text[];
            BEGIN
                SELECT * INTO c FROM karokar_events.consumer WHERE name = p_consumer FOR UPDATE SKIP LOCKED;
                IF NOT FOUND THEN RETURN -1; END IF;
                IF c.position >= p_safe THEN RETURN 0; END IF;
                -- '*' -> '%', 'vehicle.*' -> 'vehicle.%', names otherwise exact ('_' escaped).
                SELECT array_agg(CASE WHEN p = '*' THEN '%' WHEN p LIKE '%.*' THEN replace(left(p, -1), '_', '\\_') || '%'
                                      ELSE replace(p, '_', '\\_') END)
                INTO v_like FROM unnest(c.patterns) AS p;
                SELECT max(seq), count(*) INTO v_last, v_count FROM (
                    SELECT seq FROM karokar_events.outbox WHERE seq > c.position AND seq <= p_safe ORDER BY seq LIMIT p_limit
                ) AS batch;
                WITH written AS (
                    INSERT INTO karokar_events.delivery (consumer, seq, aggregate_key)
                    SELECT p_consumer, o.seq, o.aggregate_type || ':' || o.aggregate_id
                    FROM karokar_events.outbox AS o
                    WHERE o.seq > c.position AND o.seq <= coalesce(v_last, p_safe)
                      AND NOT (p_consumer = ANY (coalesce(o.known_consumers, '{}')))
                      AND o.event_type LIKE ANY (v_like)
                      AND NOT EXISTS (SELECT 1 FROM karokar_events.processed AS p WHERE p.consumer = p_consumer AND p.event_id = o.event_id)
                    ON CONFLICT DO NOTHING
                    RETURNING 1
                )
                SELECT count(*) INTO v_written FROM written;
                UPDATE karokar_events.consumer
                SET position = CASE WHEN v_count < p_limit THEN p_safe ELSE v_last END
                WHERE name = p_consumer;
                RETURN v_written;
            END
            $$;

            -- The claim of migration 3, plus: a consumer's own policy for dead letters (with
            -- 'proceed' a dead delivery no longer holds back its aggregate), and the cursor gate:
            -- a delivery past the consumer's cursor waits while an earlier event of its aggregate,
            -- also past the cursor, was published by a process that did not know the consumer
            -- (its delivery is not written yet; the fan-out writes it).
            DROP FUNCTION karokar_events.claim(text, int, interval, text);
            CREATE FUNCTION karokar_events.claim(p_consumer text, p_limit int, p_lease interval, p_owner text)
                RETURNS TABLE (seq bigint, attempts int, aggregate_key text, envelope bytea)
                LANGUAGE plpgsql SET enable_bitmapscan = off SET enable_sort = off AS $$
            #variable_conflict use_column
            DECLARE
                v_position bigint;
                v_dead_waits boolean;
            BEGIN
                SELECT k.position, k.on_dead = 'wait' INTO v_position, v_dead_waits FROM karokar_events.consumer AS k WHERE k.name = p_consumer;
                v_position := coalesce(v_position, 0);
                v_dead_waits := coalesce(v_dead_waits, true);
                RETURN QUERY
                UPDATE karokar_events.delivery AS d
                SET available_at = clock_timestamp() + p_lease, attempts = d.attempts + 1, leased_by = p_owner
                FROM (
                    SELECT c.consumer, c.seq FROM karokar_events.delivery AS c
                    WHERE c.consumer = p_consumer AND c.state = 'pending' AND c.available_at <= clock_timestamp()
                      AND NOT EXISTS (
                          SELECT 1 FROM karokar_events.delivery AS e
                          WHERE e.consumer = c.consumer AND e.aggregate_key = c.aggregate_key AND e.seq < c.seq
                            AND (v_dead_waits OR e.state = 'pending'))
                      AND (c.seq <= v_position OR NOT EXISTS (
                          SELECT 1 FROM karokar_events.outbox AS oc JOIN karokar_events.outbox AS e
                              ON e.aggregate_type = oc.aggregate_type AND e.aggregate_id = oc.aggregate_id
                          WHERE oc.seq = c.seq AND e.seq > v_position AND e.seq < c.seq
                            AND NOT (p_consumer = ANY (coalesce(e.known_consumers, '{}')))))
                    ORDER BY c.seq
                    LIMIT p_limit
                    FOR UPDATE SKIP LOCKED
                ) AS picked, karokar_events.outbox AS o
                WHERE d.consumer = picked.consumer AND d.seq = picked.seq AND o.seq = d.seq
                RETURNING d.seq, d.attempts, d.aggregate_key, o.envelope;
            END
            $$;

            -- Retention: the outbox stays append-only for everyone but karokar_events.prune, which
            -- removes only events no registered consumer still needs.
            CREATE OR REPLACE FUNCTION karokar_events.outbox_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' AND current_setting('karokar_events.pruning', true) = 'on' THEN
                    RETURN NULL;
                END IF;
                RAISE EXCEPTION 'karokar_events.outbox is append-only: deliveries and consumers refer to its events'
                    USING ERRCODE = 'restrict_violation';
            END
            $$;
            CREATE INDEX outbox_recorded ON karokar_events.outbox (recorded_at);
            CREATE INDEX processed_at ON karokar_events.processed (processed_at);

            -- Deletes up to p_limit outbox events recorded before p_before that every registered
            -- consumer's cursor has passed and that no delivery (pending or dead) refers to.
            CREATE FUNCTION karokar_events.prune_outbox(p_before timestamptz, p_limit int) RETURNS int LANGUAGE plpgsql AS $$
            DECLARE
                v_below bigint;
                v_deleted int;
            BEGIN
                SELECT least(
                    (SELECT safe_seq FROM karokar_events.horizon WHERE id = 1),
                    coalesce((SELECT min(position) FROM karokar_events.consumer), 9223372036854775807),
                    coalesce((SELECT min(seq) - 1 FROM karokar_events.delivery), 9223372036854775807))
                INTO v_below;
                PERFORM set_config('karokar_events.pruning', 'on', true);
                WITH doomed AS (
                    SELECT seq FROM karokar_events.outbox WHERE seq <= v_below AND recorded_at < p_before ORDER BY seq LIMIT p_limit
                )
                DELETE FROM karokar_events.outbox AS o USING doomed WHERE o.seq = doomed.seq;
                GET DIAGNOSTICS v_deleted = ROW_COUNT;
                PERFORM set_config('karokar_events.pruning', 'off', true);
                RETURN v_deleted;
            END
            $$;
            """),
        Migration(context: "karokar_events", version: 5, name: "outbox_trace_parent", sql: """
            -- Tracing (README, "Tracing"): the W3C traceparent of the call that published the
            -- event, when the server traces, so that its deliveries continue (or link to) that
            -- trace. NULL otherwise. Nullable without a default: a catalog-only change.
            ALTER TABLE karokar_events.outbox ADD COLUMN trace_parent text
                CHECK (trace_parent IS NULL OR octet_length(trace_parent) <= 128);
            """),
        Migration(context: "karokar_events", version: 6, name: "claim_runs", sql: """
            -- The claim of migration 4 leased only the first outstanding delivery of each aggregate.
            -- A booking's life publishes its events within about 100 ms, so a claim of 100 got
            -- about ten (one per booking), each later event waited for the previous batch's
            -- settlement, and every claim walked and probed the whole growing backlog: half of
            -- PostgreSQL's time under the booking benchmark (Booking's README, "Performance").
            --
            -- This claim leases each aggregate's *run*: its consecutive due deliveries from the
            -- first outstanding one, oldest first, up to p_limit in all. The relay handles a batch in
            -- seq order, and a failure holds back the rest of its aggregate's run (released, not
            -- attempted), so order per aggregate still holds within a batch. Across claims:
            --
            -- 1. A delivery is a candidate only if every earlier outstanding delivery of its
            --    aggregate is due too (none leased elsewhere, backing off, or dead under 'wait').
            --    Taken in seq order up to p_limit, the candidates of an aggregate form a prefix of
            --    its outstanding deliveries, all of which are candidates.
            -- 2. Claims of one consumer are serialized (a transaction-scoped advisory lock per
            --    consumer, held to the claim's commit), so a concurrent claim cannot lock the head of
            --    a run while this one locks its tail: SKIP LOCKED would otherwise let a later event
            --    pass an earlier one.
            -- 3. Rows locked by someone else are still skipped (a relay settling deliveries whose
            --    lease expired holds them in its batch transaction). A skipped row leaves a gap in
            --    its aggregate's run, so before leasing, every picked delivery is checked once more
            --    with a fresh snapshot: it is leased only if each earlier outstanding delivery of its
            --    aggregate was picked too. Guarantee 3 alone keeps the order; 2 keeps claims dense.
            --
            -- No step of the claim may depend on delivery's statistics: it is a queue, analyzed
            -- while nearly empty or never. Under the booking benchmark the planner probed a
            -- candidate's earlier deliveries through the primary key (consumer, seq), reading every
            -- earlier delivery of the consumer, and scanned the consumer's whole range to lease the
            -- picked rows; a claim grew with the square of the backlog (2.4 s for 100 deliveries
            -- 17,000 behind) and the relay fell further behind. Now:
            -- - the candidates are walked along the primary key (the only index with consumer in
            --   the default collation; sorts, bitmaps and sequential scans off);
            -- - a probe compares consumer in the "C" collation and seq through an expression, so
            --   the primary key matches none of its conditions and only delivery_run, on
            --   (consumer "C", aggregate_key, seq), can serve it: it reads the aggregate's few
            --   outstanding deliveries. delivery_run replaces delivery_aggregate (publishing still
            --   maintains two indexes);
            -- - the picked rows are checked and leased one by one by primary key (point lookups;
            --   the check's probe takes the aggregate as a value, never as a join).
            DROP INDEX karokar_events.delivery_aggregate;
            CREATE INDEX delivery_run ON karokar_events.delivery (consumer COLLATE "C", aggregate_key, seq);

            -- The lease is not worth a WAL flush (the claim would hold the consumer's lock through
            -- it): lost in a crash, a lease only makes its deliveries due again, which
            -- at-least-once delivery allows (settlement deduplicates). Called by the relay in a
            -- transaction of its own; the setting is local to that transaction.
            DROP FUNCTION karokar_events.claim(text, int, interval, text);
            CREATE FUNCTION karokar_events.claim(p_consumer text, p_limit int, p_lease interval, p_owner text)
                RETURNS TABLE (seq bigint, attempts int, aggregate_key text, envelope bytea)
                LANGUAGE plpgsql SET enable_bitmapscan = off SET enable_sort = off SET enable_seqscan = off
                    SET enable_hashjoin = off SET enable_mergejoin = off AS $$
            #variable_conflict use_column
            DECLARE
                v_position bigint;
                v_dead_waits boolean;
                v_picked bigint[];
                v_seq bigint;
                v_attempts int;
                v_key text;
            BEGIN
                -- 0x6b6b6576 is "kkev"; the second key the consumer's.
                PERFORM pg_advisory_xact_lock(1802200438, hashtext(p_consumer));
                PERFORM set_config('synchronous_commit', 'off', true);
                SELECT k.position, k.on_dead = 'wait' INTO v_position, v_dead_waits FROM karokar_events.consumer AS k WHERE k.name = p_consumer;
                v_position := coalesce(v_position, 0);
                v_dead_waits := coalesce(v_dead_waits, true);
                SELECT array_agg(picked.seq) INTO v_picked FROM (
                    SELECT c.seq FROM karokar_events.delivery AS c
                    WHERE c.consumer = p_consumer AND c.state = 'pending' AND c.available_at <= clock_timestamp()
                      AND NOT EXISTS (
                          SELECT 1 FROM karokar_events.delivery AS e
                          WHERE e.consumer COLLATE "C" = p_consumer AND e.aggregate_key = c.aggregate_key AND e.seq + 0 < c.seq
                            AND (e.state = 'pending' AND e.available_at > clock_timestamp() OR e.state = 'dead' AND v_dead_waits))
                      AND (c.seq <= v_position OR NOT EXISTS (
                          SELECT 1 FROM karokar_events.outbox AS oc JOIN karokar_events.outbox AS e
                              ON e.aggregate_type = oc.aggregate_type AND e.aggregate_id = oc.aggregate_id
                          WHERE oc.seq = c.seq AND e.seq > v_position AND e.seq < c.seq
                            AND NOT (p_consumer = ANY (coalesce(e.known_consumers, '{}')))))
                    ORDER BY c.seq
                    LIMIT p_limit
                    FOR UPDATE SKIP LOCKED
                ) AS picked;
                IF v_picked IS NULL THEN
                    RETURN;
                END IF;
                FOREACH v_seq IN ARRAY v_picked LOOP
                    SELECT d.aggregate_key INTO v_key FROM karokar_events.delivery AS d WHERE d.consumer = p_consumer AND d.seq = v_seq;
                    UPDATE karokar_events.delivery AS d
                    SET available_at = clock_timestamp() + p_lease, attempts = d.attempts + 1, leased_by = p_owner
                    WHERE d.consumer = p_consumer AND d.seq = v_seq
                      AND NOT EXISTS (
                          SELECT 1 FROM karokar_events.delivery AS e
                          WHERE e.consumer COLLATE "C" = p_consumer AND e.aggregate_key = v_key AND e.seq + 0 < v_seq
                            AND (e.state = 'pending' OR v_dead_waits) AND NOT (e.seq = ANY (v_picked)))
                    RETURNING d.attempts INTO v_attempts;
                    IF FOUND THEN
                        RETURN QUERY SELECT v_seq, v_attempts, v_key, o.envelope FROM karokar_events.outbox AS o WHERE o.seq = v_seq;
                    END IF;
                END LOOP;
            END
            $$;
            """),
        Migration(context: "karokar_events", version: 7, name: "claim_gate_by_aggregate", sql: """
            -- The claim's cursor gate (a delivery past the consumer's cursor waits while an earlier
            -- event of its aggregate, also past the cursor, lacks the consumer) compared the
            -- earlier events' seq with a range, so the planner, on the outbox's statistics of a
            -- nearly empty table, walked outbox_pkey over every event between the cursor and the
            -- candidate and filtered them by aggregate: about 1,000 events per candidate, 95% of
            -- the claim's reads and a mean 13 ms per claim under Deploy/bench-booking.sh (seen with
            -- auto_explain, BENCH_PG_SETTINGS). As in the aggregate probes of migration 6, seq is
            -- now compared through an expression, so only outbox_aggregate (aggregate_type,
            -- aggregate_id, seq) can serve the probe: it reads the aggregate's own few events.
            -- The rest of the function is migration 6's.
            CREATE OR REPLACE FUNCTION karokar_events.claim(p_consumer text, p_limit int, p_lease interval, p_owner text)
                RETURNS TABLE (seq bigint, attempts int, aggregate_key text, envelope bytea)
                LANGUAGE plpgsql SET enable_bitmapscan = off SET enable_sort = off SET enable_seqscan = off
                    SET enable_hashjoin = off SET enable_mergejoin = off AS $$
            #variable_conflict use_column
            DECLARE
                v_position bigint;
                v_dead_waits boolean;
                v_picked bigint[];
                v_seq bigint;
                v_attempts int;
                v_key text;
            BEGIN
                -- 0x6b6b6576 is "kkev"; the second key the consumer's.
                PERFORM pg_advisory_xact_lock(1802200438, hashtext(p_consumer));
                PERFORM set_config('synchronous_commit', 'off', true);
                SELECT k.position, k.on_dead = 'wait' INTO v_position, v_dead_waits FROM karokar_events.consumer AS k WHERE k.name = p_consumer;
                v_position := coalesce(v_position, 0);
                v_dead_waits := coalesce(v_dead_waits, true);
                SELECT array_agg(picked.seq) INTO v_picked FROM (
                    SELECT c.seq FROM karokar_events.delivery AS c
                    WHERE c.consumer = p_consumer AND c.state = 'pending' AND c.available_at <= clock_timestamp()
                      AND NOT EXISTS (
                          SELECT 1 FROM karokar_events.delivery AS e
                          WHERE e.consumer COLLATE "C" = p_consumer AND e.aggregate_key = c.aggregate_key AND e.seq + 0 < c.seq
                            AND (e.state = 'pending' AND e.available_at > clock_timestamp() OR e.state = 'dead' AND v_dead_waits))
                      AND (c.seq <= v_position OR NOT EXISTS (
                          SELECT 1 FROM karokar_events.outbox AS oc JOIN karokar_events.outbox AS e
                              ON e.aggregate_type = oc.aggregate_type AND e.aggregate_id = oc.aggregate_id
                          WHERE oc.seq = c.seq AND e.seq + 0 > v_position AND e.seq + 0 < c.seq
                            AND NOT (p_consumer = ANY (coalesce(e.known_consumers, '{}')))))
                    ORDER BY c.seq
                    LIMIT p_limit
                    FOR UPDATE SKIP LOCKED
                ) AS picked;
                IF v_picked IS NULL THEN
                    RETURN;
                END IF;
                FOREACH v_seq IN ARRAY v_picked LOOP
                    SELECT d.aggregate_key INTO v_key FROM karokar_events.delivery AS d WHERE d.consumer = p_consumer AND d.seq = v_seq;
                    UPDATE karokar_events.delivery AS d
                    SET available_at = clock_timestamp() + p_lease, attempts = d.attempts + 1, leased_by = p_owner
                    WHERE d.consumer = p_consumer AND d.seq = v_seq
                      AND NOT EXISTS (
                          SELECT 1 FROM karokar_events.delivery AS e
                          WHERE e.consumer COLLATE "C" = p_consumer AND e.aggregate_key = v_key AND e.seq + 0 < v_seq
                            AND (e.state = 'pending' OR v_dead_waits) AND NOT (e.seq = ANY (v_picked)))
                    RETURNING d.attempts INTO v_attempts;
                    IF FOUND THEN
                        RETURN QUERY SELECT v_seq, v_attempts, v_key, o.envelope FROM karokar_events.outbox AS o WHERE o.seq = v_seq;
                    END IF;
                END LOOP;
            END
            $$;
            """),
        Migration(context: "karokar_events", version: 8, name: "log_consumers", sql: """
            -- How a consumer takes its events. 'deliveries': publishers (and the fan-out) write a
            -- delivery row per event, which the relay claims, and settles in the consumer's
            -- transaction (order per aggregate, retries and dead letters per event). 'log': the
            -- consumer reads the outbox itself in seq order up to the horizon, in batches, and
            -- moves its cursor (position) in the same transaction as its handler's writes, so
            -- each event takes effect exactly once with no row per event besides its own. One
            -- process at a time reads a log (the consumer's row lock). Audit reads a log: every
            -- event, in one order, with a delivery row, a lease, a settlement and a processed
            -- record per event it cost about a fifth of PostgreSQL's time under the booking
            -- benchmark (Booking's README, "Performance").
            ALTER TABLE karokar_events.consumer ADD COLUMN reads text NOT NULL DEFAULT 'deliveries'
                CHECK (reads IN ('deliveries', 'log'));
            """),
        Migration(context: "karokar_events", version: 9, name: "claim_leases_at_once", sql: """
            -- The claim leased its picked deliveries one by one, three statements each (read the
            -- aggregate, lease with the gap check, read the envelope): under the booking benchmark
            -- 47,500 deliveries cost 142,500 statements inside the claims. Now one UPDATE leases
            -- them all and one join returns them, each still a point lookup whatever delivery's
            -- statistics say (migration 6): the rows are found by the tuple ids the pick locked
            -- (a TID scan; the consumer and seq conditions only re-check them, written so that no
            -- index can serve them and offer the planner a scan of the consumer), the gap check
            -- stays a correlated probe of delivery_run per row (OFFSET 0 keeps it from becoming
            -- a join the planner could turn around), and each envelope is one lookup of
            -- outbox_pkey (a lateral subquery, OFFSET 0 for the same reason). The check and the
            -- lease see the same fresh snapshot as the per-row statements did; everything else
            -- is migration 7's.
            CREATE OR REPLACE FUNCTION karokar_events.claim(p_consumer text, p_limit int, p_lease interval, p_owner text)
                RETURNS TABLE (seq bigint, attempts int, aggregate_key text, envelope bytea)
                LANGUAGE plpgsql SET enable_bitmapscan = off SET enable_sort = off SET enable_seqscan = off
                    SET enable_hashjoin = off SET enable_mergejoin = off AS $$
            #variable_conflict use_column
            DECLARE
                v_position bigint;
                v_dead_waits boolean;
                v_picked bigint[];
                v_rows tid[];
            BEGIN
                -- 0x6b6b6576 is "kkev"; the second key the consumer's.
                PERFORM pg_advisory_xact_lock(1802200438, hashtext(p_consumer));
                PERFORM set_config('synchronous_commit', 'off', true);
                SELECT k.position, k.on_dead = 'wait' INTO v_position, v_dead_waits FROM karokar_events.consumer AS k WHERE k.name = p_consumer;
                v_position := coalesce(v_position, 0);
                v_dead_waits := coalesce(v_dead_waits, true);
                SELECT array_agg(picked.seq), array_agg(picked.ctid) INTO v_picked, v_rows FROM (
                    SELECT c.seq, c.ctid FROM karokar_events.delivery AS c
                    WHERE c.consumer = p_consumer AND c.state = 'pending' AND c.available_at <= clock_timestamp()
                      AND NOT EXISTS (
                          SELECT 1 FROM karokar_events.delivery AS e
                          WHERE e.consumer COLLATE "C" = p_consumer AND e.aggregate_key = c.aggregate_key AND e.seq + 0 < c.seq
                            AND (e.state = 'pending' AND e.available_at > clock_timestamp() OR e.state = 'dead' AND v_dead_waits))
                      AND (c.seq <= v_position OR NOT EXISTS (
                          SELECT 1 FROM karokar_events.outbox AS oc JOIN karokar_events.outbox AS e
                              ON e.aggregate_type = oc.aggregate_type AND e.aggregate_id = oc.aggregate_id
                          WHERE oc.seq = c.seq AND e.seq + 0 > v_position AND e.seq + 0 < c.seq
                            AND NOT (p_consumer = ANY (coalesce(e.known_consumers, '{}')))))
                    ORDER BY c.seq
                    LIMIT p_limit
                    FOR UPDATE SKIP LOCKED
                ) AS picked;
                IF v_picked IS NULL THEN
                    RETURN;
                END IF;
                RETURN QUERY
                WITH leased AS (
                    UPDATE karokar_events.delivery AS d
                    SET available_at = clock_timestamp() + p_lease, attempts = d.attempts + 1, leased_by = p_owner
                    WHERE d.ctid = ANY (v_rows) AND d.consumer || '' = p_consumer AND d.seq + 0 = ANY (v_picked)
                      AND NOT EXISTS (
                          SELECT 1 FROM karokar_events.delivery AS e
                          WHERE e.consumer COLLATE "C" = p_consumer AND e.aggregate_key = d.aggregate_key AND e.seq + 0 < d.seq
                            AND (e.state = 'pending' OR v_dead_waits) AND NOT (e.seq = ANY (v_picked))
                          OFFSET 0)
                    RETURNING d.seq, d.attempts, d.aggregate_key
                )
                SELECT l.seq, l.attempts, l.aggregate_key, o.envelope
                FROM leased AS l CROSS JOIN LATERAL (
                    SELECT x.envelope FROM karokar_events.outbox AS x WHERE x.seq = l.seq OFFSET 0
                ) AS o;
            END
            $$;
            """),
        // The horizon waited for the oldest transaction of the whole cluster: a long writing
        // transaction in another database (another application's, or a test's next door) held
        // every log reader of this one back for as long as it ran. Every transaction that took
        // a seq <= L (read first) had its transaction id before L was read, so when the snapshot
        // S is taken next it is finished or in S's running list, and it runs in this database
        // (the outbox is here); while it still runs its backend shows that id in
        // pg_stat_activity (backend_xid, shown for every session). So the pending pair is now L
        // and the running transactions of S whose id a backend of this database shows; the
        // horizon moves once none of those is in progress. Prepared (two-phase) transactions are
        // not backends and would be missed: the application does not prepare transactions.
        Migration(context: "karokar_events", version: 10, name: "horizon_of_this_database", sql: """
            ALTER TABLE karokar_events.horizon ADD COLUMN pending_xids xid8[] NOT NULL DEFAULT '{}';

            CREATE OR REPLACE FUNCTION karokar_events.advance_horizon() RETURNS bigint LANGUAGE plpgsql AS $$
            DECLARE
                h karokar_events.horizon;
                v_last bigint;
                v_xids xid8[];
            BEGIN
                SELECT * INTO h FROM karokar_events.horizon WHERE id = 1 FOR UPDATE SKIP LOCKED;
                IF NOT FOUND THEN
                    RETURN (SELECT safe_seq FROM karokar_events.horizon WHERE id = 1);
                END IF;
                IF EXISTS (SELECT 1 FROM unnest(h.pending_xids) AS x WHERE pg_xact_status(x) = 'in progress') THEN
                    RETURN h.safe_seq;
                END IF;
                -- The order matters: the sequence first, then (a later statement, a later
                -- snapshot) the running transactions.
                SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO v_last FROM karokar_events.outbox_seq_seq;
                SELECT coalesce(array_agg(x), '{}') INTO v_xids
                FROM pg_snapshot_xip(pg_current_snapshot()) AS x
                WHERE xid(x) IN (SELECT a.backend_xid FROM pg_stat_activity AS a
                                 WHERE a.datname = current_database() AND a.backend_xid IS NOT NULL);
                UPDATE karokar_events.horizon
                SET safe_seq = h.pending_seq, pending_seq = v_last, pending_xids = v_xids, pending_xmax = '0'::xid8
                WHERE id = 1;
                RETURN h.pending_seq;
            END
            $$;
            """),
        // A delivery's state and an event's traceparent as domains, as Booking's migration 2
        // explains: PostgreSQL reads and plans a table's CHECKs again on every INSERT or UPDATE
        // statement, a domain's once per session; every publishing transaction appends to both
        // tables. Same rules; no rewrite. (`attempts` keeps its CHECK: the claim functions
        // return it as `int`, and PL/pgSQL's RETURN QUERY wants that exact type.)
        Migration(context: "karokar_events", version: 11, name: "rules_as_domains", sql: """
            ALTER TABLE karokar_events.delivery DROP CONSTRAINT delivery_state_check;
            ALTER TABLE karokar_events.outbox DROP CONSTRAINT outbox_trace_parent_check;
            CREATE DOMAIN karokar_events.delivery_state AS text;
            CREATE DOMAIN karokar_events.trace_parent AS text;
            ALTER TABLE karokar_events.delivery ALTER COLUMN state TYPE karokar_events.delivery_state;
            ALTER TABLE karokar_events.outbox ALTER COLUMN trace_parent TYPE karokar_events.trace_parent;
            ALTER DOMAIN karokar_events.delivery_state ADD CONSTRAINT delivery_state_known CHECK (VALUE IN ('pending', 'dead'));
            ALTER DOMAIN karokar_events.trace_parent ADD CONSTRAINT trace_parent_length CHECK (octet_length(VALUE) <= 128);
            """),
    ]
}
