-- The comparison for the relay's claim (Deploy/bench-booking.sh, BENCH_AFTER_START_SQL): puts back
-- events migration 4's claim (and its index), which leases only the first outstanding delivery of each aggregate,
-- on a server that runs migration 6's. Only for benchmarks: run it on a scratch database.
-- `BENCH_AFTER_START_SQL=Deploy/bench/claim-heads.sql bash Deploy/bench-booking.sh 20`
BEGIN;
DROP FUNCTION karokar_events.claim(text, int, interval, text);
DROP INDEX karokar_events.delivery_run;
CREATE INDEX delivery_aggregate ON karokar_events.delivery (consumer, aggregate_key, seq);
-- The claim of migration 3, plus: a consumer's own policy for dead letters (with
-- 'proceed' a dead delivery no longer holds back its aggregate), and the cursor gate:
-- a delivery past the consumer's cursor waits while an earlier event of its aggregate,
-- also past the cursor, was published by a process that did not know the consumer
-- (its delivery is not written yet; the fan-out writes it).
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
COMMIT;
