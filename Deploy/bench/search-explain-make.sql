-- The search's make plan (SearchStore.make; keep in step), prepared by search-explain.sql as
-- :make_name with :model_clause, the model's test on the index, present only when a model is asked
-- for (the server splices it in as a clause of its own; see search-explain.sql).
PREPARE :make_name(timestamptz, timestamptz, bigint, bool, uuid, text, uuid, text, text, int, int, uuid, int, int) AS
WITH m AS MATERIALIZED (
    SELECT g.vehicle_id, g.free FROM fleet.vehicle_free AS g
    WHERE g.make_key = lower($8::text)
      AND g.free && tstzrange($1, $2 + $3::bigint * interval '1 microsecond')
      AND g.free @> coalesce(CASE WHEN $1 + $3::bigint * interval '1 microsecond' > $2 THEN tstzrange($2, $1 + $3::bigint * interval '1 microsecond') END, 'empty'::tstzrange)
      AND ($12::uuid IS NULL OR g.vehicle_id > $12::uuid)
      AND ($4 OR g.vendor_owned OR g.organization_id = $5)
      AND ($7::uuid IS NULL OR g.organization_id = $7::uuid)
      AND ($6::text IS NULL OR g.vendor_owned = ($6::text = 'VENDOR_OWNED'))
      :model_clause
      AND ($10::int IS NULL OR g.year >= $10::int)
      AND ($11::int IS NULL OR g.year <= $11::int)
      AND greatest(lower(g.free), $1::timestamptz) <= $2::timestamptz
    LIMIT $13::bigint + 1)
SELECT c.matched, a.* FROM (SELECT count(*) AS matched FROM m) AS c
LEFT JOIN LATERAL (
    SELECT DISTINCT ON (f.vehicle_id) v.id, v.organization_id, v.ownership_type, v.make, v.model, v.year, v.license_plate, v.status, v.version, v.created_at, v.updated_at, greatest(lower(f.free), $1::timestamptz) AS start
    FROM (SELECT m.vehicle_id, m.free FROM m ORDER BY m.vehicle_id, m.free OFFSET 0) AS f
    CROSS JOIN LATERAL (SELECT * FROM fleet.vehicle AS w WHERE w.id = f.vehicle_id OFFSET 0) AS v
    JOIN fleet.owner AS o ON o.organization_id = v.organization_id AND o.status = 'ACTIVE'
    WHERE c.matched <= $13::bigint AND v.status = 'ACTIVE'
      AND (upper_inf(f.free) OR greatest(lower(f.free), $1::timestamptz)
           + $3::bigint * interval '1 microsecond' + o.turnaround_minutes * interval '1 minute' <= upper(f.free))
      AND ($6::text IS NULL OR v.ownership_type = $6::text)
      AND lower(v.make) = lower($8::text)
      AND ($9::text IS NULL OR lower(v.model) = lower($9::text))
      AND ($10::int IS NULL OR v.year >= $10::int)
      AND ($11::int IS NULL OR v.year <= $11::int)
    ORDER BY f.vehicle_id, f.free
    LIMIT $14) AS a ON true;
