public import KaroKarPostgres

extension FleetMigrations {
    // Issue 22: search whose cost does not depend on how busy the fleet is. `vehicle_free` holds
    // the maximal free intervals of every ACTIVE vehicle: the complement of the union of its
    // open records' `blocked` ranges (suspensions included), one row per gap, kept by triggers
    // in the same transaction as each record and status change (under a per-vehicle advisory
    // lock, so concurrent writers on one vehicle take turns). A vehicle is free for a window
    // extended by its owner's buffer exactly when one of its gaps contains it, so the GiST
    // index over (bucket, free) finds the free vehicles of a window directly, bucket by
    // bucket in id order (the bucket is the id's first 10 bits, so buckets follow id order).
    // The period-only GiST indexes go: conflicts use the exclusion constraint's index,
    // suspensions a small partial index, search the gaps (README, "Lists and search").
    static let freeIntervals = Migration(context: "fleet", version: 4, name: "free_intervals", sql: """
            CREATE TABLE fleet.vehicle_free (
                vehicle_id uuid NOT NULL,
                free tstzrange NOT NULL CHECK (NOT isempty(free)),
                -- The vehicle's, copied (they never change): who may see it, read from the index.
                organization_id uuid NOT NULL,
                vendor_owned boolean NOT NULL,
                bucket int NOT NULL GENERATED ALWAYS AS
                    ((get_byte(uuid_send(vehicle_id), 0) << 2) | (get_byte(uuid_send(vehicle_id), 1) >> 6)) STORED
            );

            -- The walk filters listings from an index alone (index-only scans), whatever the filters.
            DROP INDEX fleet.vehicle_searchable;
            DROP INDEX fleet.vehicle_make;
            DROP INDEX fleet.vehicle_make_model;
            CREATE INDEX vehicle_searchable ON fleet.vehicle (id)
                INCLUDE (organization_id, ownership_type, make, model, year) WHERE status = 'ACTIVE';
            CREATE INDEX vehicle_make ON fleet.vehicle (lower(make), id)
                INCLUDE (organization_id, ownership_type, make, model, year) WHERE status = 'ACTIVE';
            CREATE INDEX vehicle_make_model ON fleet.vehicle (lower(make), lower(model), id)
                INCLUDE (organization_id, ownership_type, make, model, year) WHERE status = 'ACTIVE';
            CREATE INDEX vehicle_owner_searchable ON fleet.vehicle (organization_id, id)
                INCLUDE (ownership_type, make, model, year) WHERE status = 'ACTIVE';

            CREATE INDEX availability_open_suspension ON fleet.availability (vehicle_id) WHERE released_at IS NULL AND status = 'SUSPENDED';
            DROP INDEX fleet.availability_open;
            DROP INDEX fleet.availability_open_blocked;

            -- The parts of `region` no open record of the vehicle holds (two queries, so each
            -- uses an index: the exclusion constraint's, and the suspensions').
            CREATE FUNCTION fleet.free_pieces(target uuid, region tstzmultirange) RETURNS SETOF tstzrange LANGUAGE sql STABLE AS $$
                SELECT unnest(region - coalesce((
                    SELECT range_agg(held.blocked) FROM (
                        SELECT a.blocked FROM fleet.availability AS a
                        WHERE a.vehicle_id = target AND a.released_at IS NULL AND a.status <> 'SUSPENDED'
                          AND a.blocked && range_merge(region)
                        UNION ALL
                        SELECT a.blocked FROM fleet.availability AS a
                        WHERE a.vehicle_id = target AND a.released_at IS NULL AND a.status = 'SUSPENDED'
                          AND a.blocked && range_merge(region)) AS held), '{}'))
            $$;
            -- Recomputes the gaps around `changed` (a record's `blocked` range, placed or released):
            -- the gaps overlapping or touching it are replaced by what of them and `changed` is
            -- free now. Nothing else changed, so the new pieces are maximal.
            CREATE FUNCTION fleet.refresh_free(target uuid, changed tstzrange) RETURNS void LANGUAGE plpgsql AS $$
            DECLARE
                region tstzmultirange;
                owner_id uuid;
                listed boolean;
            BEGIN
                PERFORM pg_advisory_xact_lock(1718384, hashtext(target::text));
                SELECT v.organization_id, v.ownership_type = 'VENDOR_OWNED' INTO owner_id, listed
                FROM fleet.vehicle AS v WHERE v.id = target AND v.status = 'ACTIVE';
                IF NOT FOUND THEN
                    RETURN;
                END IF;
                WITH gone AS (
                    DELETE FROM fleet.vehicle_free AS f
                    WHERE f.vehicle_id = target AND (f.free && changed OR f.free -|- changed)
                    RETURNING f.free
                )
                SELECT coalesce(range_agg(gone.free), '{}') + tstzmultirange(changed) INTO region FROM gone;
                INSERT INTO fleet.vehicle_free (vehicle_id, free, organization_id, vendor_owned)
                SELECT target, piece, owner_id, listed FROM fleet.free_pieces(target, region) AS piece;
            END $$;
            -- All of a vehicle's gaps, from scratch (none unless it is ACTIVE).
            CREATE FUNCTION fleet.rebuild_free(target uuid) RETURNS void LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_advisory_xact_lock(1718384, hashtext(target::text));
                DELETE FROM fleet.vehicle_free WHERE vehicle_id = target;
                INSERT INTO fleet.vehicle_free (vehicle_id, free, organization_id, vendor_owned)
                SELECT target, piece, v.organization_id, v.ownership_type = 'VENDOR_OWNED'
                FROM fleet.vehicle AS v, fleet.free_pieces(target, '{(,)}') AS piece
                WHERE v.id = target AND v.status = 'ACTIVE';
            END $$;
            -- Every vehicle's gaps from scratch, set-based (this migration, and bulk loads that
            -- disable the two triggers below, such as Deploy/bench/fleet-dataset.sql).
            CREATE FUNCTION fleet.rebuild_all_free() RETURNS void LANGUAGE sql AS $$
                TRUNCATE fleet.vehicle_free;
                INSERT INTO fleet.vehicle_free (vehicle_id, free, organization_id, vendor_owned)
                SELECT v.id, unnest('{(,)}'::tstzmultirange - coalesce(held.blocked, '{}')), v.organization_id, v.ownership_type = 'VENDOR_OWNED'
                FROM fleet.vehicle AS v
                LEFT JOIN (SELECT a.vehicle_id, range_agg(a.blocked) AS blocked FROM fleet.availability AS a
                           WHERE a.released_at IS NULL GROUP BY a.vehicle_id) AS held ON held.vehicle_id = v.id
                WHERE v.status = 'ACTIVE';
            $$;

            CREATE FUNCTION fleet.availability_free() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' AND NEW.released_at IS NULL
                   OR TG_OP = 'UPDATE' AND OLD.released_at IS NULL AND NEW.released_at IS NOT NULL THEN
                    PERFORM fleet.refresh_free(NEW.vehicle_id, NEW.blocked);
                END IF;
                RETURN NULL;
            END $$;
            CREATE TRIGGER availability_free AFTER INSERT OR UPDATE OF released_at ON fleet.availability
                FOR EACH ROW EXECUTE FUNCTION fleet.availability_free();
            CREATE FUNCTION fleet.vehicle_free() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' AND NEW.status = 'ACTIVE'
                   OR TG_OP = 'UPDATE' AND (OLD.status = 'ACTIVE') <> (NEW.status = 'ACTIVE') THEN
                    PERFORM fleet.rebuild_free(NEW.id);
                END IF;
                RETURN NULL;
            END $$;
            CREATE TRIGGER vehicle_free AFTER INSERT OR UPDATE OF status ON fleet.vehicle
                FOR EACH ROW EXECUTE FUNCTION fleet.vehicle_free();

            SELECT fleet.rebuild_all_free();
            -- Probes of one vehicle (index-only), and the free vehicles of a window, bucket by bucket.
            CREATE INDEX vehicle_free_vehicle ON fleet.vehicle_free (vehicle_id) INCLUDE (free);
            CREATE INDEX vehicle_free_window ON fleet.vehicle_free USING gist (bucket, free) INCLUDE (vehicle_id, organization_id, vendor_owned);
            ANALYZE fleet.vehicle_free;
            """)
}
