-- The search's three statements as SearchStore.swift writes them (keep in step), prepared with the
-- same bind parameters, and EXPLAIN (ANALYZE, BUFFERS) of the long-window, no-match and rare-make cases.
-- psql -v corporate=UUID -f Deploy/bench/search-explain.sql DATABASE
-- $1 earliest start, $2 latest start, $3 length (microseconds), $4 everything, $5 caller, $6 ownership,
-- $7 owner, $8 make, $9 model, $10 year min, $11 year max, $12 after, then: walk $13 budget, $14 limit;
-- gaps $13 first bucket, $14 last bucket, $15 limit; make $13 budget, $14 limit
PREPARE walk(timestamptz, timestamptz, bigint, bool, uuid, text, uuid, text, text, int, int, uuid, int, int) AS
SELECT v.id, v.organization_id, v.ownership_type, v.make, v.model, v.year, v.license_plate, v.status, v.version, v.created_at, v.updated_at, x.walked, x.start FROM (
    SELECT c.id, row_number() OVER (ORDER BY c.id) AS walked,
           (SELECT min(greatest(lower(f.free), $1::timestamptz)) FROM fleet.vehicle_free AS f
            WHERE f.vehicle_id = c.id
              AND greatest(lower(f.free), $1::timestamptz) <= $2::timestamptz
              AND (upper_inf(f.free) OR greatest(lower(f.free), $1::timestamptz)
                   + $3::bigint * interval '1 microsecond' + c.turnaround_minutes * interval '1 minute'
                   <= upper(f.free))) AS start
    FROM (
        SELECT w.id, o.turnaround_minutes FROM fleet.vehicle AS w
        JOIN fleet.owner AS o ON o.organization_id = w.organization_id AND o.status = 'ACTIVE'
        WHERE w.status = 'ACTIVE'
          AND ($4 OR w.ownership_type = 'VENDOR_OWNED' OR w.organization_id = $5)
          AND ($6::text IS NULL OR w.ownership_type = $6::text)
          AND ($7::uuid IS NULL OR w.organization_id = $7::uuid)
          AND ($8::text IS NULL OR lower(w.make) = lower($8::text))
          AND ($9::text IS NULL OR lower(w.model) = lower($9::text))
          AND ($10::int IS NULL OR w.year >= $10::int)
          AND ($11::int IS NULL OR w.year <= $11::int)
          AND ($12::uuid IS NULL OR w.id > $12::uuid)
        ORDER BY w.id LIMIT $13) AS c
) AS x
CROSS JOIN LATERAL (SELECT * FROM fleet.vehicle AS v WHERE v.id = x.id) AS v
WHERE x.start IS NOT NULL OR x.walked = $13
ORDER BY x.id
LIMIT $14 + 1;
PREPARE gaps(timestamptz, timestamptz, bigint, bool, uuid, text, uuid, text, text, int, int, uuid, int, int, int) AS
SELECT DISTINCT ON (f.vehicle_id) v.id, v.organization_id, v.ownership_type, v.make, v.model, v.year, v.license_plate, v.status, v.version, v.created_at, v.updated_at, greatest(lower(f.free), $1::timestamptz) AS start
FROM (SELECT g.vehicle_id, g.free FROM fleet.vehicle_free AS g
      WHERE g.bucket BETWEEN $13::int AND $14::int AND g.free && tstzrange($1, $2 + $3::bigint * interval '1 microsecond')
        AND g.free @> coalesce(CASE WHEN $1 + $3::bigint * interval '1 microsecond' > $2 THEN tstzrange($2, $1 + $3::bigint * interval '1 microsecond') END, 'empty'::tstzrange)
        AND ($12::uuid IS NULL OR g.vehicle_id > $12::uuid)
        AND ($4 OR g.vendor_owned OR g.organization_id = $5)
        AND ($7::uuid IS NULL OR g.organization_id = $7::uuid)
        AND ($6::text IS NULL OR g.vendor_owned = ($6::text = 'VENDOR_OWNED'))
        AND ($8::text IS NULL OR g.make_key = lower($8::text))
        AND ($9::text IS NULL OR g.model_key = lower($9::text))
        AND ($10::int IS NULL OR g.year >= $10::int)
        AND ($11::int IS NULL OR g.year <= $11::int)
        AND greatest(lower(g.free), $1::timestamptz) <= $2::timestamptz
      ORDER BY g.vehicle_id, g.free OFFSET 0) AS f
CROSS JOIN LATERAL (SELECT * FROM fleet.vehicle AS w WHERE w.id = f.vehicle_id) AS v
JOIN fleet.owner AS o ON o.organization_id = v.organization_id AND o.status = 'ACTIVE'
WHERE v.status = 'ACTIVE'
  AND (upper_inf(f.free) OR greatest(lower(f.free), $1::timestamptz)
       + $3::bigint * interval '1 microsecond' + o.turnaround_minutes * interval '1 minute' <= upper(f.free))
  AND ($6::text IS NULL OR v.ownership_type = $6::text)
  AND ($8::text IS NULL OR lower(v.make) = lower($8::text))
  AND ($9::text IS NULL OR lower(v.model) = lower($9::text))
  AND ($10::int IS NULL OR v.year >= $10::int)
  AND ($11::int IS NULL OR v.year <= $11::int)
ORDER BY f.vehicle_id, f.free
LIMIT $15;
-- The make plan, twice: without a model (make) and with the model as a clause of its own
-- (make_model), as the server sends them; and make_either, the model written the old way, ($9 IS
-- NULL OR ...), which a generic plan cannot use as an index condition (shown at the end).
\set make_name make
\set model_clause ''
\ir search-explain-make.sql
\set make_name make_model
\set model_clause 'AND g.model_key = lower($9::text)'
\ir search-explain-make.sql
\set make_name make_either
\set model_clause 'AND ($9::text IS NULL OR g.model_key = lower($9::text))'
\ir search-explain-make.sql

\echo '-- 180-day window, no filter: the gaps plan, one scan of all 1,024 buckets (what a question with few answers costs)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE gaps('2027-03-01', '2027-03-01', 180 * 86400000000::bigint, false, :'corporate', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 1023, 51);
\echo '-- 60-day window, no filter: the gaps plan, the first step (2 buckets)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE gaps('2027-06-01', '2027-06-01', 60 * 86400000000::bigint, false, :'corporate', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 1, 51);
\echo '-- 7-day window, make + model + year matching nothing: the walk (budget 128) settles it'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE walk('2027-06-01', '2027-06-01', 7 * 86400000000::bigint, false, :'corporate', NULL, NULL, 'Tata', 'Beta', 2030, NULL, NULL, 128, 51);
\echo '-- 60 days from 2027-08-27, make Skoda (12 answers in the data set): the walk needs every Skoda listing (budget 16,384 shown),'
\echo '-- the gaps every bucket (all 1,024 shown), the make plan one scan of the make index (budget 512)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE walk('2027-08-27', '2027-08-27', 60 * 86400000000::bigint, false, :'corporate', NULL, NULL, 'Skoda', NULL, NULL, NULL, NULL, 16384, 51);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE gaps('2027-08-27', '2027-08-27', 60 * 86400000000::bigint, false, :'corporate', NULL, NULL, 'Skoda', NULL, NULL, NULL, NULL, 0, 1023, 51);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE make('2027-08-27', '2027-08-27', 60 * 86400000000::bigint, false, :'corporate', NULL, NULL, 'Skoda', NULL, NULL, NULL, NULL, 512, 51);
\echo '-- 60 days from 2027-02-12, make Skoda (824 free intervals): the make plan with budget 512 gives up, with 2,048 answers'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE make('2027-02-12', '2027-02-12', 60 * 86400000000::bigint, false, :'corporate', NULL, NULL, 'Skoda', NULL, NULL, NULL, NULL, 512, 51);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE make('2027-02-12', '2027-02-12', 60 * 86400000000::bigint, false, :'corporate', NULL, NULL, 'Skoda', NULL, NULL, NULL, NULL, 2048, 51);
\echo '-- 7 days from 2027-03-27 (the busy week: 1 vehicle in 10 free), Skoda Sigma 2025+: the walk (budget 512, its third step) and the make plan (budget 512)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE walk('2027-03-27', '2027-03-27', 7 * 86400000000::bigint, false, :'corporate', NULL, NULL, 'Skoda', 'Sigma', 2025, NULL, NULL, 512, 51);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE make_model('2027-03-27', '2027-03-27', 7 * 86400000000::bigint, false, :'corporate', NULL, NULL, 'Skoda', 'Sigma', 2025, NULL, NULL, 512, 51);
\echo '-- the same question with generic plans (what PostgreSQL runs after five executions of one statement): the model'
\echo '-- as a clause stays an index condition; written ($9 IS NULL OR ...) it becomes a filter after a scan of every Skoda interval'
SET plan_cache_mode = force_generic_plan;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE make_model('2027-03-27', '2027-03-27', 7 * 86400000000::bigint, false, :'corporate', NULL, NULL, 'Skoda', 'Sigma', 2025, NULL, NULL, 2048, 51);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE make_either('2027-03-27', '2027-03-27', 7 * 86400000000::bigint, false, :'corporate', NULL, NULL, 'Skoda', 'Sigma', 2025, NULL, NULL, 2048, 51);
RESET plan_cache_mode;
\echo '-- flexible: 30 days starting within 14 days of 2027-06-01, the gaps plan'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE gaps('2027-06-01', '2027-06-15', 30 * 86400000000::bigint, false, :'corporate', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 1, 51);
