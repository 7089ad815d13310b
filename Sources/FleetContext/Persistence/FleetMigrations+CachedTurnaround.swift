public import KaroKarPostgres

extension FleetMigrations {
    // The turnaround buffer's lookup was a LANGUAGE sql function with a sub-select, which
    // PostgreSQL neither inlines nor keeps a plan for: every reservation and assignment planned its
    // body again in the `availability_blocked` trigger (pg_stat_statements with track_planning in
    // the booking lives: 2,311 calls, 2,311 plans, 546 ms planning against 108 ms executing), and
    // `with_turnaround`, handed that call as an argument it uses twice, was planned again too
    // (51 ms). A PL/pgSQL function keeps its statement's plan for the session, and the trigger
    // computes the extended range itself, in an expression PL/pgSQL plans once.
    static let cachedTurnaround = Migration(context: "fleet", version: 7, name: "turnaround_lookup_cached", sql: """
        CREATE OR REPLACE FUNCTION fleet.turnaround_minutes(vehicle uuid) RETURNS int LANGUAGE plpgsql STABLE AS $$
        DECLARE
            minutes int;
        BEGIN
            SELECT o.turnaround_minutes INTO minutes
            FROM fleet.vehicle v JOIN fleet.owner o ON o.organization_id = v.organization_id
            WHERE v.id = turnaround_minutes.vehicle;
            RETURN coalesce(minutes, 0);
        END $$;

        CREATE OR REPLACE FUNCTION fleet.availability_blocked() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            minutes int;
        BEGIN
            IF TG_OP = 'UPDATE' THEN
                NEW.blocked := OLD.blocked;
            ELSIF NEW.source_type IN ('BOOKING', 'ASSIGNMENT') THEN
                minutes := fleet.turnaround_minutes(NEW.vehicle_id);
                -- fleet.with_turnaround, written out (a SQL function's body is planned per call).
                NEW.blocked := CASE WHEN upper_inf(NEW.period) OR minutes = 0 THEN NEW.period
                                    ELSE tstzrange(lower(NEW.period), upper(NEW.period) + make_interval(mins => minutes), '[)') END;
            ELSE
                NEW.blocked := NEW.period;
            END IF;
            RETURN NEW;
        END $$;
        """)
}
