import KaroKarPostgres

extension FleetMigrations {
    // The gaps next to a placed or released record were found by `f.vehicle_id = target AND
    // (f.free && changed OR f.free -|- changed)`. Once PL/pgSQL switched to the statement's generic
    // plan, PostgreSQL ANDed the vehicle's index with an OR of two scans of a GiST index on the
    // gaps (`vehicle_free_make`, whose leading columns the statement does not constrain): every
    // vehicle's gaps overlapping the period were read, on every reservation and release
    // (auto_explain in the booking lives: 1.7 ms mean and up to 32 ms for a DELETE that takes
    // 0.03 ms by the vehicle's index, a third of PostgreSQL's time per approval). Which plan a
    // session kept depended on the statistics at its sixth call, so runs differed by 15% in
    // throughput. The range test is now a condition no index can serve (`IS TRUE`: the same
    // rows), so the vehicle's own index is the only way in.
    static let refreshByVehicle = Migration(context: "fleet", version: 8, name: "free_refresh_by_vehicle", sql: """
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
                WHERE f.vehicle_id = target AND (f.free && changed OR f.free -|- changed) IS TRUE
                RETURNING f.free
            )
            SELECT coalesce(range_agg(gone.free), '{}') + tstzmultirange(changed) INTO region FROM gone;
            INSERT INTO fleet.vehicle_free (vehicle_id, free, organization_id, vendor_owned, make_key, model_key, year)
            SELECT target, piece, listing.organization_id, listing.ownership_type = 'VENDOR_OWNED',
                   lower(listing.make), lower(listing.model), listing.year
            FROM fleet.free_pieces(target, region) AS piece;
        END $$;
        """)
}
