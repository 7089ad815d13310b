-- The statement report of a benchmark run on a cluster with BENCH_PG_STATS=1 (Deploy/bench/cluster.sh):
-- PostgreSQL's time (execution, wall clock: lock waits included, the commit's WAL flush is COMMIT's)
-- by part of the system, then the top statements. Top-level statements only in the parts; the
-- statement list also shows the statements functions run (nested = t; their time is inside their
-- caller's too).
\echo '-- PostgreSQL time by part (top-level statements)'
WITH s AS (
    SELECT calls, total_exec_time, rows,
        CASE
            WHEN query ~* '^\s*(BEGIN|COMMIT|ROLLBACK|START TRANSACTION)' THEN 'transaction control (every part''s)'
            WHEN query LIKE '%karokar_events.claim(%' THEN 'relay: claim'
            WHEN query LIKE 'WITH settled AS%' THEN 'relay: settle'
            WHEN query LIKE '%pg_notify%' THEN 'relay: notify'
            WHEN query LIKE '%INSERT INTO karokar_events.outbox%' THEN 'request: outbox append'
            WHEN query LIKE '%karokar_events.%' THEN 'relay: fan-out, horizon, retention, failures'
            WHEN query LIKE '%audit.%' THEN 'consumer: audit'
            WHEN query LIKE '%notification.%' THEN 'consumer: notification'
            WHEN query LIKE '%administration.bookings%' OR query LIKE '%administration.vehicle%' THEN 'consumer: administration dashboard'
            WHEN query LIKE '%karokar_kernel.idempotency%' THEN 'request: idempotency'
            ELSE 'request: the use cases and reactions'
        END AS part
    FROM pg_stat_statements
    WHERE toplevel AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements%'
)
SELECT part, sum(calls) AS calls, round(sum(total_exec_time)::numeric) AS total_ms,
    round((sum(total_exec_time) / nullif(sum(calls), 0))::numeric, 3) AS mean_ms, sum(rows) AS rows,
    round((100 * sum(total_exec_time) / sum(sum(total_exec_time)) OVER ())::numeric, 1) AS pct
FROM s GROUP BY part ORDER BY sum(total_exec_time) DESC;

\echo '-- top 30 statements by total time'
SELECT calls, round(total_exec_time::numeric) AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms, rows,
    NOT toplevel AS nested, left(regexp_replace(query, '\s+', ' ', 'g'), 150) AS query
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements%'
ORDER BY total_exec_time DESC LIMIT 30;

\echo '-- top 15 statements by planning time (with pg_stat_statements.track_planning = on; else empty)'
SELECT calls, plans, round(total_plan_time::numeric) AS plan_ms, round(total_exec_time::numeric) AS exec_ms,
    NOT toplevel AS nested, left(regexp_replace(query, '\s+', ' ', 'g'), 150) AS query
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements%'
  AND total_plan_time > 0
ORDER BY total_plan_time DESC LIMIT 15;
