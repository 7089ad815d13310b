public import KaroKarPostgres

/// The Fleet context's schema, `fleet`. The availability invariants of DOMAIN.md section 5 live
/// here, in the database, so no code path and no second server process can bypass them:
///
/// - `availability_no_overlap`: two open RESERVED / ALLOCATED / MAINTENANCE / BLOCKED records of
///   one vehicle never overlap (an exclusion constraint over vehicle and period).
/// - `availability_suspension_hold` (trigger): nothing new is placed over an open SUSPENDED record,
///   while a suspension itself may be recorded over anything. Concurrent inserts cannot break it:
///   a record that commits alongside a suspension it could not see is equivalent to one placed
///   just before the suspension, which is allowed.
/// - records are history: period, vehicle, status pairing and source never change, and a release
///   is final.
public enum FleetMigrations {
    public static let all: [Migration] = [
        Migration(context: "fleet", version: 1, name: "vehicles_and_availability", sql: """
            CREATE EXTENSION IF NOT EXISTS btree_gist;

            -- Fleet's own view of the organizations that own vehicles, kept by in-transaction
            -- reactions to Identity's and Administration's events (never read from their tables).
            CREATE TABLE fleet.owner (
                organization_id uuid PRIMARY KEY,
                kind text NOT NULL CHECK (kind IN ('PLATFORM', 'VENDOR', 'CORPORATE')),
                status text NOT NULL CHECK (status IN ('PENDING', 'ACTIVE', 'SUSPENDED', 'REJECTED')),
                updated_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (organization_id, kind)
            );

            CREATE TABLE fleet.vehicle (
                id uuid PRIMARY KEY,
                organization_id uuid NOT NULL,
                ownership_type text NOT NULL CHECK (ownership_type IN ('VENDOR_OWNED', 'CORPORATE_OWNED')),
                -- Vendors own VENDOR_OWNED vehicles, corporates CORPORATE_OWNED: checked against the owner.
                owner_kind text NOT NULL GENERATED ALWAYS AS
                    (CASE ownership_type WHEN 'VENDOR_OWNED' THEN 'VENDOR' ELSE 'CORPORATE' END) STORED,
                make text NOT NULL CHECK (length(make) BETWEEN 1 AND 100),
                model text NOT NULL CHECK (length(model) BETWEEN 1 AND 100),
                year int NOT NULL CHECK (year BETWEEN 1900 AND 2100),
                license_plate text NOT NULL CHECK (license_plate ~ '^[A-Z0-9-]{1,20}$'),
                status text NOT NULL CHECK (status IN ('PENDING', 'ACTIVE', 'SUSPENDED', 'RETIRED')),
                version bigint NOT NULL DEFAULT 1,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                FOREIGN KEY (organization_id, owner_kind) REFERENCES fleet.owner (organization_id, kind)
            );
            CREATE UNIQUE INDEX vehicle_plate_unique ON fleet.vehicle (license_plate) WHERE status <> 'RETIRED';
            CREATE INDEX vehicle_owner ON fleet.vehicle (organization_id, id);
            CREATE INDEX vehicle_searchable ON fleet.vehicle (id) INCLUDE (organization_id, ownership_type)
                WHERE status = 'ACTIVE';
            -- Search walks listings in id order and stops at a page: these keep filtered walks in id order.
            CREATE INDEX vehicle_make ON fleet.vehicle (lower(make), id) WHERE status = 'ACTIVE';
            CREATE INDEX vehicle_make_model ON fleet.vehicle (lower(make), lower(model), id) WHERE status = 'ACTIVE';

            CREATE TABLE fleet.availability (
                id uuid PRIMARY KEY,
                vehicle_id uuid NOT NULL REFERENCES fleet.vehicle (id),
                organization_id uuid NOT NULL,
                period tstzrange NOT NULL,
                status text NOT NULL CHECK (status IN ('RESERVED', 'ALLOCATED', 'MAINTENANCE', 'SUSPENDED', 'BLOCKED')),
                source_type text NOT NULL CHECK (source_type IN ('BOOKING', 'ASSIGNMENT', 'MAINTENANCE', 'SUSPENSION', 'MANUAL_BLOCK')),
                source_id uuid NOT NULL,
                version bigint NOT NULL DEFAULT 1,
                created_at timestamptz NOT NULL DEFAULT now(),
                released_at timestamptz,
                -- Half-open [start, end) with a start; an open end only for suspensions and
                -- open-ended assignments.
                CONSTRAINT availability_period_shape CHECK (
                    NOT isempty(period) AND NOT lower_inf(period) AND lower_inc(period) AND NOT upper_inc(period)),
                CONSTRAINT availability_open_end CHECK (
                    NOT upper_inf(period) OR status = 'SUSPENDED' OR (status = 'ALLOCATED' AND source_type = 'ASSIGNMENT')),
                CONSTRAINT availability_source_fits CHECK (
                    (status = 'RESERVED' AND source_type = 'BOOKING')
                    OR (status = 'ALLOCATED' AND source_type IN ('BOOKING', 'ASSIGNMENT'))
                    OR (status = 'MAINTENANCE' AND source_type = 'MAINTENANCE')
                    OR (status = 'SUSPENDED' AND source_type = 'SUSPENSION')
                    OR (status = 'BLOCKED' AND source_type = 'MANUAL_BLOCK')),
                CONSTRAINT availability_no_overlap EXCLUDE USING gist (vehicle_id WITH =, period WITH &&)
                    WHERE (released_at IS NULL AND status <> 'SUSPENDED')
            );
            -- Every open record, suspensions included: search and availability checks.
            CREATE INDEX availability_open ON fleet.availability USING gist (vehicle_id, period) WHERE released_at IS NULL;
            CREATE INDEX availability_source ON fleet.availability (source_type, source_id);
            CREATE INDEX availability_timeline ON fleet.availability (vehicle_id, lower(period), id);

            CREATE FUNCTION fleet.availability_guard() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    RAISE EXCEPTION 'availability records are history and are never deleted'
                        USING ERRCODE = 'check_violation', CONSTRAINT = 'availability_immutable';
                END IF;
                IF TG_OP = 'INSERT' THEN
                    IF NEW.status <> 'SUSPENDED' AND EXISTS (
                        SELECT 1 FROM fleet.availability
                        WHERE vehicle_id = NEW.vehicle_id AND status = 'SUSPENDED' AND released_at IS NULL
                          AND period && NEW.period) THEN
                        RAISE EXCEPTION 'availability record over an open suspension'
                            USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'availability_suspension_hold';
                    END IF;
                    RETURN NEW;
                END IF;
                IF NEW.vehicle_id <> OLD.vehicle_id OR NEW.period <> OLD.period OR NEW.source_type <> OLD.source_type
                   OR NEW.source_id <> OLD.source_id OR NEW.organization_id <> OLD.organization_id THEN
                    RAISE EXCEPTION 'availability records are history: only status and release change'
                        USING ERRCODE = 'check_violation', CONSTRAINT = 'availability_immutable';
                END IF;
                IF OLD.released_at IS NOT NULL AND NEW.released_at IS DISTINCT FROM OLD.released_at THEN
                    RAISE EXCEPTION 'a released record stays released'
                        USING ERRCODE = 'check_violation', CONSTRAINT = 'availability_immutable';
                END IF;
                IF NEW.status <> OLD.status AND NOT (OLD.status = 'RESERVED' AND NEW.status = 'ALLOCATED') THEN
                    RAISE EXCEPTION 'only RESERVED -> ALLOCATED'
                        USING ERRCODE = 'check_violation', CONSTRAINT = 'availability_transition';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER availability_guard BEFORE INSERT OR UPDATE OR DELETE ON fleet.availability
                FOR EACH ROW EXECUTE FUNCTION fleet.availability_guard();

            CREATE TABLE fleet.maintenance (
                id uuid PRIMARY KEY,
                vehicle_id uuid NOT NULL REFERENCES fleet.vehicle (id),
                organization_id uuid NOT NULL,
                period tstzrange NOT NULL CHECK (NOT isempty(period) AND NOT lower_inf(period) AND NOT upper_inf(period)),
                reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
                status text NOT NULL CHECK (status IN ('SCHEDULED', 'IN_PROGRESS', 'COMPLETED', 'CANCELLED')),
                availability_id uuid NOT NULL REFERENCES fleet.availability (id),
                booking_id uuid,
                created_by text NOT NULL,
                started_at timestamptz,
                completed_at timestamptz,
                cancelled_at timestamptz,
                cancellation_reason text,
                version bigint NOT NULL DEFAULT 1,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX maintenance_vehicle ON fleet.maintenance (vehicle_id, created_at, id);
            CREATE INDEX maintenance_owner ON fleet.maintenance (organization_id, created_at, id);

            CREATE TABLE fleet.suspension (
                id uuid PRIMARY KEY,
                vehicle_id uuid NOT NULL REFERENCES fleet.vehicle (id),
                organization_id uuid NOT NULL,
                reason text NOT NULL CHECK (reason IN ('INSURANCE_EXPIRED', 'REGISTRATION_EXPIRED',
                    'FITNESS_CERTIFICATE_EXPIRED', 'ADMIN_ACTION', 'VENDOR_REQUEST')),
                period tstzrange NOT NULL CHECK (NOT isempty(period) AND NOT lower_inf(period)),
                notes text,
                availability_id uuid NOT NULL REFERENCES fleet.availability (id),
                document_id uuid,
                created_by text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                lifted_at timestamptz,
                lifted_by text,
                version bigint NOT NULL DEFAULT 1
            );
            CREATE INDEX suspension_vehicle ON fleet.suspension (vehicle_id, created_at, id);
            -- One open suspension per vehicle and reason: sweeps and retries do not pile them up.
            CREATE UNIQUE INDEX suspension_open_reason ON fleet.suspension (vehicle_id, reason) WHERE lifted_at IS NULL;

            -- A vehicle is SUSPENDED exactly while one of its suspensions is open, checked at commit
            -- so a unit of work can open a suspension and set the status in either order.
            CREATE FUNCTION fleet.suspension_status_check() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                -- The vehicle's id: `vehicle_id` of a suspension row, `id` of a vehicle row.
                vehicle uuid := coalesce((to_jsonb(NEW) ->> 'vehicle_id')::uuid, (to_jsonb(NEW) ->> 'id')::uuid);
                current_status text;
                open_suspensions boolean;
            BEGIN
                SELECT v.status, EXISTS (SELECT 1 FROM fleet.suspension s WHERE s.vehicle_id = v.id AND s.lifted_at IS NULL)
                INTO current_status, open_suspensions FROM fleet.vehicle v WHERE v.id = vehicle;
                IF (current_status = 'SUSPENDED') <> open_suspensions THEN
                    RAISE EXCEPTION 'vehicle status and open suspensions disagree'
                        USING ERRCODE = 'check_violation', CONSTRAINT = 'vehicle_suspension_status';
                END IF;
                RETURN NULL;
            END $$;
            CREATE CONSTRAINT TRIGGER vehicle_suspension_status AFTER INSERT OR UPDATE OF status ON fleet.vehicle
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fleet.suspension_status_check();
            CREATE CONSTRAINT TRIGGER suspension_vehicle_status AFTER INSERT OR UPDATE OF lifted_at ON fleet.suspension
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fleet.suspension_status_check();

            CREATE TABLE fleet.block (
                id uuid PRIMARY KEY,
                vehicle_id uuid NOT NULL REFERENCES fleet.vehicle (id),
                organization_id uuid NOT NULL,
                period tstzrange NOT NULL CHECK (NOT isempty(period) AND NOT lower_inf(period) AND NOT upper_inf(period)),
                reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
                availability_id uuid NOT NULL REFERENCES fleet.availability (id),
                created_by text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                removed_at timestamptz,
                removed_by text,
                version bigint NOT NULL DEFAULT 1
            );
            CREATE INDEX block_vehicle ON fleet.block (vehicle_id, created_at, id);

            CREATE TABLE fleet.document (
                id uuid PRIMARY KEY,
                vehicle_id uuid NOT NULL REFERENCES fleet.vehicle (id),
                organization_id uuid NOT NULL,
                type text NOT NULL CHECK (type IN ('REGISTRATION', 'INSURANCE', 'FITNESS_CERTIFICATE', 'OTHER')),
                number text NOT NULL CHECK (length(number) BETWEEN 1 AND 100),
                issued_at timestamptz NOT NULL,
                expires_at timestamptz,
                file_ref text NOT NULL DEFAULT '',
                created_by text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                CHECK (expires_at IS NULL OR expires_at > issued_at),
                CHECK (type = 'OTHER' OR expires_at IS NOT NULL)
            );
            CREATE INDEX document_vehicle ON fleet.document (vehicle_id, type, expires_at);

            -- Fleet's view of the Verification context's decisions about its vehicles (from
            -- verification.* events): the activation gate reads it.
            CREATE TABLE fleet.verification (
                verification_id uuid PRIMARY KEY,
                vehicle_id uuid NOT NULL REFERENCES fleet.vehicle (id),
                type text NOT NULL CHECK (type IN ('VEHICLE_REGISTRATION', 'INSURANCE', 'FITNESS_CERTIFICATE')),
                status text NOT NULL CHECK (status IN ('APPROVED', 'REJECTED', 'EXPIRED', 'REVOKED')),
                expires_at timestamptz,
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX verification_vehicle ON fleet.verification (vehicle_id, type);
            """),
        // Turnaround buffers (issue 16): an owner's minutes of free time after each booking or
        // assignment of its vehicles. A record's `blocked` range is its period, extended by the
        // owner's buffer (at insertion) for BOOKING and ASSIGNMENT records; the no-overlap
        // exclusion constraint now compares `blocked`, so the buffer holds like the rule itself,
        // in every process and on every write path. `blocked` never changes after insertion.
        Migration(context: "fleet", version: 2, name: "turnaround_buffer", sql: """
            ALTER TABLE fleet.owner ADD COLUMN turnaround_minutes int NOT NULL DEFAULT 0
                CHECK (turnaround_minutes BETWEEN 0 AND 10080);

            CREATE FUNCTION fleet.turnaround_minutes(vehicle uuid) RETURNS int LANGUAGE sql STABLE AS $$
                SELECT coalesce((SELECT o.turnaround_minutes FROM fleet.vehicle v
                                 JOIN fleet.owner o ON o.organization_id = v.organization_id WHERE v.id = vehicle), 0)
            $$;
            -- A booking's or assignment's period as it holds the vehicle: its end moved by the buffer.
            CREATE FUNCTION fleet.with_turnaround(period tstzrange, minutes int) RETURNS tstzrange LANGUAGE sql IMMUTABLE AS $$
                SELECT CASE WHEN upper_inf(period) OR minutes = 0 THEN period
                            ELSE tstzrange(lower(period), upper(period) + make_interval(mins => minutes), '[)') END
            $$;

            ALTER TABLE fleet.availability ADD COLUMN blocked tstzrange;
            UPDATE fleet.availability SET blocked = period;
            ALTER TABLE fleet.availability ALTER COLUMN blocked SET NOT NULL;
            ALTER TABLE fleet.availability ADD CONSTRAINT availability_blocked_covers CHECK (blocked @> period);

            CREATE FUNCTION fleet.availability_blocked() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'UPDATE' THEN
                    NEW.blocked := OLD.blocked;
                ELSIF NEW.source_type IN ('BOOKING', 'ASSIGNMENT') THEN
                    NEW.blocked := fleet.with_turnaround(NEW.period, fleet.turnaround_minutes(NEW.vehicle_id));
                ELSE
                    NEW.blocked := NEW.period;
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER availability_blocked BEFORE INSERT OR UPDATE ON fleet.availability
                FOR EACH ROW EXECUTE FUNCTION fleet.availability_blocked();

            ALTER TABLE fleet.availability DROP CONSTRAINT availability_no_overlap;
            ALTER TABLE fleet.availability ADD CONSTRAINT availability_no_overlap EXCLUDE USING gist (vehicle_id WITH =, blocked WITH &&)
                WHERE (released_at IS NULL AND status <> 'SUSPENDED');
            -- Every open record as it holds the vehicle: availability checks and search.
            CREATE INDEX availability_open_blocked ON fleet.availability USING gist (vehicle_id, blocked) WHERE released_at IS NULL;
            """),
        // Issue 19, finding 6: a block a platform administrator placed (moderation) is theirs to
        // remove, not the owner's. Blocks from before are the owners' unless moderation placed them.
        Migration(context: "fleet", version: 3, name: "platform_blocks", sql: """
            ALTER TABLE fleet.block ADD COLUMN placed_by_platform boolean NOT NULL DEFAULT false;
            """),
        freeIntervals,
        freeDetails,
        freeMake,
        cachedTurnaround,
        refreshByVehicle,
        availabilityDomains,
    ]
}
