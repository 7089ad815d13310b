public import KaroKarPostgres

extension FleetMigrations {
    // Issue 22: the gaps plan filtered make, model and year only after joining each free interval
    // to its listing, so a question whose filters reject a bucket's free vehicles (a rare make in
    // the bucket of a vendor with 10,000 idle vehicles) read all of them from the heap. The
    // listing's filtered columns are copied into its gaps (make and model case-folded, as the
    // filters compare them) and into the GiST index, so the index scan rejects them itself. The
    // copies follow the listing: a trigger rewrites them when its make, model or year changes, in
    // the same transaction and under the same per-vehicle lock as the gaps.
    static let freeDetails = Migration(context: "fleet", version: 5, name: "free_interval_details", sql: """
            ALTER TABLE fleet.vehicle_free ADD COLUMN make_key text, ADD COLUMN model_key text, ADD COLUMN year int;
            UPDATE fleet.vehicle_free AS f SET make_key = lower(v.make), model_key = lower(v.model), year = v.year
            FROM fleet.vehicle AS v WHERE v.id = f.vehicle_id;
            ALTER TABLE fleet.vehicle_free ALTER COLUMN make_key SET NOT NULL, ALTER COLUMN model_key SET NOT NULL,
                ALTER COLUMN year SET NOT NULL;

            CREATE OR REPLACE FUNCTION fleet.refresh_free(target uuid, changed tstzrange) RETURNS void LANGUAGE plpgsql AS $$
            DECLARE
                region tstzmultirange;
                listing fleet.vehicle%ROWTYPE;
            BEGIN
                PERFORM pg_advisory_xact_lock(1718384, hashtext(target::text));
                SELECT * INTO listing FROM fleet.vehicle AS v WHERE v.id = target AND v.status = 'ACTIVE';
                IF NOT FOUND THEN
                    RETURN;
                END IF;
                WITH gone AS (
                    DELETE FROM fleet.vehicle_free AS f
                    WHERE f.vehicle_id = target AND (f.free && changed OR f.free -|- changed)
                    RETURNING f.free
                )
                SELECT coalesce(range_agg(gone.free), '{}') + tstzmultirange(changed) INTO region FROM gone;
                INSERT INTO fleet.vehicle_free (vehicle_id, free, organization_id, vendor_owned, make_key, model_key, year)
                SELECT target, piece, listing.organization_id, listing.ownership_type = 'VENDOR_OWNED',
                       lower(listing.make), lower(listing.model), listing.year
                FROM fleet.free_pieces(target, region) AS piece;
            END $$;
            CREATE OR REPLACE FUNCTION fleet.rebuild_free(target uuid) RETURNS void LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_advisory_xact_lock(1718384, hashtext(target::text));
                DELETE FROM fleet.vehicle_free WHERE vehicle_id = target;
                INSERT INTO fleet.vehicle_free (vehicle_id, free, organization_id, vendor_owned, make_key, model_key, year)
                SELECT target, piece, v.organization_id, v.ownership_type = 'VENDOR_OWNED', lower(v.make), lower(v.model), v.year
                FROM fleet.vehicle AS v, fleet.free_pieces(target, '{(,)}') AS piece
                WHERE v.id = target AND v.status = 'ACTIVE';
            END $$;
            CREATE OR REPLACE FUNCTION fleet.rebuild_all_free() RETURNS void LANGUAGE sql AS $$
                TRUNCATE fleet.vehicle_free;
                INSERT INTO fleet.vehicle_free (vehicle_id, free, organization_id, vendor_owned, make_key, model_key, year)
                SELECT v.id, unnest('{(,)}'::tstzmultirange - coalesce(held.blocked, '{}')), v.organization_id,
                       v.ownership_type = 'VENDOR_OWNED', lower(v.make), lower(v.model), v.year
                FROM fleet.vehicle AS v
                LEFT JOIN (SELECT a.vehicle_id, range_agg(a.blocked) AS blocked FROM fleet.availability AS a
                           WHERE a.released_at IS NULL GROUP BY a.vehicle_id) AS held ON held.vehicle_id = v.id
                WHERE v.status = 'ACTIVE';
            $$;
            CREATE FUNCTION fleet.vehicle_free_details() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF (OLD.make, OLD.model, OLD.year) IS DISTINCT FROM (NEW.make, NEW.model, NEW.year) THEN
                    PERFORM pg_advisory_xact_lock(1718384, hashtext(NEW.id::text));
                    UPDATE fleet.vehicle_free AS f SET make_key = lower(NEW.make), model_key = lower(NEW.model), year = NEW.year
                    WHERE f.vehicle_id = NEW.id;
                END IF;
                RETURN NULL;
            END $$;
            CREATE TRIGGER vehicle_free_details AFTER UPDATE OF make, model, year ON fleet.vehicle
                FOR EACH ROW EXECUTE FUNCTION fleet.vehicle_free_details();

            DROP INDEX fleet.vehicle_free_window;
            CREATE INDEX vehicle_free_window ON fleet.vehicle_free USING gist (bucket, free)
                INCLUDE (vehicle_id, organization_id, vendor_owned, make_key, model_key, year);
            ANALYZE fleet.vehicle_free;
            """)
}
