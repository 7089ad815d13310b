-- The e-mail sender's claim (DeliveryStore.claim; keep in step) with and without its pinned plan,
-- on a table that filled faster than autovacuum analyzed it: 80,000 e-mails PENDING and as many
-- in-app deliveries, the state of Deploy/bench-notification.sh a few seconds into its run.
-- Run against a database with the notification schema (any server's, e.g. a `karokar-server`
-- on its embedded default); everything happens in a copy of the table and is rolled back:
--
--   psql "$DATABASE_URL" -f Deploy/bench/notification-claim.sql
--
-- Measured 2026-12-06 (PostgreSQL 15): unpinned, a bitmap scan of all 80,000 PENDING rows and an
-- external sort, 57 to 77 ms; pinned (bitmap scans, sequential scans and sorts off for the claim's
-- transaction), the index in its order, 64 rows read, 1.6 ms with the UPDATE.
\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE deliveries (LIKE notification.deliveries INCLUDING ALL) ON COMMIT DROP;
-- A temporary table is never analyzed by autovacuum: the statistics are those of a new table,
-- as for the real one in its first seconds.
INSERT INTO deliveries (id, event_id, event_type, recipient_user_id, organization_id, channel, template, status,
    next_attempt_at, sent_at, title, body, short_body, subject_type, subject_id, address)
SELECT gen_random_uuid(), gen_random_uuid(), 'booking.requested', gen_random_uuid(), gen_random_uuid(), c, 'booking.requested',
    CASE WHEN c = 'EMAIL' THEN 'PENDING' ELSE 'SENT' END, CASE WHEN c = 'EMAIL' THEN clock_timestamp() END,
    CASE WHEN c = 'IN_APP' THEN clock_timestamp() END, 'New booking request', repeat('body text ', 60), 'short', 'booking',
    gen_random_uuid()::text, 'someone@example.com'
FROM generate_series(1, 80000), unnest(ARRAY['EMAIL', 'IN_APP']) AS c;

\echo '== unpinned (the planner on a new table''s statistics)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
WITH due AS (
    SELECT id FROM deliveries
    WHERE status = 'PENDING' AND next_attempt_at <= clock_timestamp() AND channel = ANY ('{EMAIL}'::text[])
    ORDER BY next_attempt_at LIMIT 64
    FOR UPDATE SKIP LOCKED
)
UPDATE deliveries AS d SET attempts = d.attempts + 1, lease = gen_random_uuid(),
    next_attempt_at = clock_timestamp() + interval '1 minute'
FROM due WHERE d.id = due.id;

\echo '== pinned, as the server claims (DeliveryStore.pinPlan)'
-- The statement is written out twice on purpose: a prepared one keeps its first plan here.
SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true),
       set_config('enable_sort', 'off', true), set_config('enable_hashjoin', 'off', true),
       set_config('enable_mergejoin', 'off', true) \gset
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
WITH due AS (
    SELECT id FROM deliveries
    WHERE status = 'PENDING' AND next_attempt_at <= clock_timestamp() AND channel = ANY ('{EMAIL}'::text[])
    ORDER BY next_attempt_at LIMIT 64
    FOR UPDATE SKIP LOCKED
)
UPDATE deliveries AS d SET attempts = d.attempts + 1, lease = gen_random_uuid(),
    next_attempt_at = clock_timestamp() + interval '1 minute'
FROM due WHERE d.id = due.id;
ROLLBACK;
