-- The Fleet search benchmark's data set (issue 5): 500 vendor organizations, 100,000 vehicles,
-- 1,000,000 availability records, written straight into Fleet's tables (the search reads only
-- those). Deterministic: the same rows every run. Run against a migrated, empty database:
--   psql -v ON_ERROR_STOP=1 -f Deploy/bench/fleet-dataset.sql "$DATABASE_URL"
-- Shape: 2% of vendors suspended; 5% of vehicles pending, 3% retired; each vehicle has 10 records,
-- one per 36-day slot of 2027 (random start in the slot, 1 to 6 days long), 10% of them released;
-- statuses 60% RESERVED, 25% MAINTENANCE, 15% BLOCKED. Also 20 corporates with 50 vehicles each.
-- `-v scale=10` loads ten times as much (5,000 vendors, 1,000,000 vehicles, 10,000,000 records;
-- 200 corporates).
-- The free intervals search reads (fleet.vehicle_free, migration 4) are computed once at the end,
-- set-based, with their triggers off during the load (the row-by-row upkeep is for live writes).
\if :{?scale}
\else
\set scale 1
\endif
BEGIN;
SELECT setseed(0.42);
ALTER TABLE fleet.vehicle DISABLE TRIGGER vehicle_free;
ALTER TABLE fleet.availability DISABLE TRIGGER availability_free;

INSERT INTO fleet.owner (organization_id, kind, status)
SELECT md5('vendor' || g)::uuid, 'VENDOR', CASE WHEN g % 50 = 0 THEN 'SUSPENDED' ELSE 'ACTIVE' END
FROM generate_series(1, 500 * :scale) AS g;
INSERT INTO fleet.owner (organization_id, kind, status)
SELECT md5('corporate' || g)::uuid, 'CORPORATE', 'ACTIVE' FROM generate_series(1, 20 * :scale) AS g;

INSERT INTO fleet.vehicle (id, organization_id, ownership_type, make, model, year, license_plate, status)
SELECT md5('vehicle' || g)::uuid, md5('vendor' || (1 + g % (500 * :scale)))::uuid, 'VENDOR_OWNED',
       (ARRAY['Tata', 'Mahindra', 'Maruti', 'Hyundai', 'Kia', 'Toyota', 'Honda', 'Skoda'])[1 + g % 8],
       (ARRAY['Alpha', 'Beta', 'Gamma', 'Delta', 'Sigma'])[1 + (g / 8) % 5],
       2010 + g % 16, 'BENCH' || g,
       CASE WHEN get_byte(decode(md5('status' || g), 'hex'), 0) % 100 < 5 THEN 'PENDING'
            WHEN get_byte(decode(md5('status' || g), 'hex'), 0) % 100 < 8 THEN 'RETIRED' ELSE 'ACTIVE' END
FROM generate_series(1, 100000 * :scale) AS g;
INSERT INTO fleet.vehicle (id, organization_id, ownership_type, make, model, year, license_plate, status)
SELECT md5('corpvehicle' || g)::uuid, md5('corporate' || (1 + g % (20 * :scale)))::uuid, 'CORPORATE_OWNED', 'Tata', 'Alpha', 2020, 'CORP' || g, 'ACTIVE'
FROM generate_series(1, 1000 * :scale) AS g;

INSERT INTO fleet.availability (id, vehicle_id, organization_id, period, status, source_type, source_id, released_at)
SELECT gen_random_uuid(), v.id, v.organization_id,
       tstzrange(slot_start, slot_start + (1 + floor(random() * 6)) * interval '1 day', '[)'),
       kind.status, kind.source, gen_random_uuid(),
       CASE WHEN random() < 0.1 THEN slot_start ELSE NULL END
FROM fleet.vehicle AS v
CROSS JOIN generate_series(0, 9) AS k
CROSS JOIN LATERAL (SELECT timestamptz '2027-01-01 00:00+00' + (k * 36 + floor(random() * 30)) * interval '1 day' AS slot_start) AS s
CROSS JOIN LATERAL (SELECT CASE WHEN r < 0.60 THEN 'RESERVED' WHEN r < 0.85 THEN 'MAINTENANCE' ELSE 'BLOCKED' END AS status,
                           CASE WHEN r < 0.60 THEN 'BOOKING' WHEN r < 0.85 THEN 'MAINTENANCE' ELSE 'MANUAL_BLOCK' END AS source
                    FROM (SELECT random() + 0 * k AS r) AS x) AS kind
WHERE v.license_plate LIKE 'BENCH%';
-- The vehicles' deferred status checks run now: a table with pending trigger events cannot be altered.
SET CONSTRAINTS ALL IMMEDIATE;
ALTER TABLE fleet.vehicle ENABLE TRIGGER vehicle_free;
ALTER TABLE fleet.availability ENABLE TRIGGER availability_free;
-- The indexes of migrations 4, 5 and 6, built once after the rows are in.
DROP INDEX fleet.vehicle_free_vehicle;
DROP INDEX fleet.vehicle_free_window;
DROP INDEX fleet.vehicle_free_make;
SELECT fleet.rebuild_all_free();
CREATE INDEX vehicle_free_vehicle ON fleet.vehicle_free (vehicle_id) INCLUDE (free);
CREATE INDEX vehicle_free_window ON fleet.vehicle_free USING gist (bucket, free) INCLUDE (vehicle_id, organization_id, vendor_owned, make_key, model_key, year);
CREATE INDEX vehicle_free_make ON fleet.vehicle_free USING gist (make_key, model_key, free) INCLUDE (vehicle_id, organization_id, vendor_owned, year);
COMMIT;
VACUUM ANALYZE fleet.owner, fleet.vehicle, fleet.availability, fleet.vehicle_free;
