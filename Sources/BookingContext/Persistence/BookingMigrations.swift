public import KaroKarPostgres

/// The Booking context's schema, `booking`: bookings (with their termination and handover
/// evidence), the corporates' allocations, and one lock row per employee that serializes their
/// self-bookings. What the database enforces:
///
/// - a booking's status is one of DOMAIN.md's, its period a closed half-open range;
/// - a termination is recorded exactly when the booking is TERMINATED;
/// - the odometer at return is never below the handover's;
/// - one allocation per corporate and employee (the zero UUID is the corporate's default).
///
/// The allocation limit holds across server processes because every check of an employee's
/// self-bookings first locks that employee's row in `allocation_locks` (`INSERT ... ON CONFLICT
/// DO UPDATE`, which takes the row lock in one statement); concurrent submissions and approvals of
/// one employee take turns and each counts what the previous one committed.
public enum BookingMigrations {
    public static let all: [Migration] = [
        Migration(context: "booking", version: 1, name: "bookings_and_allocations", sql: """
            CREATE EXTENSION IF NOT EXISTS btree_gist;

            CREATE TABLE booking.bookings (
                id uuid PRIMARY KEY,
                vehicle_id uuid NOT NULL,
                vendor_organization_id uuid NOT NULL,
                corporate_organization_id uuid NOT NULL,
                requested_by uuid NOT NULL,
                period tstzrange NOT NULL CHECK (
                    NOT isempty(period) AND NOT lower_inf(period) AND NOT upper_inf(period) AND lower_inc(period) AND NOT upper_inc(period)),
                status text NOT NULL CHECK (status IN (
                    'DRAFT', 'REQUESTED', 'APPROVED', 'REJECTED', 'ASSIGNED', 'ACTIVE', 'COMPLETED', 'TERMINATED', 'CANCELLED')),
                notes text CHECK (length(notes) <= 2000),
                self_booking boolean NOT NULL DEFAULT false,
                submitted_at timestamptz,
                expires_at timestamptz,
                decided_by uuid,
                decided_at timestamptz,
                rejection_reason text,
                assignee_id uuid,
                assignment_id uuid,
                cancelled_by text,
                cancelled_at timestamptz,
                cancellation_reason text,
                activated_at timestamptz,
                completed_at timestamptz,
                handover_odometer_km bigint CHECK (handover_odometer_km >= 0),
                handover_fuel_percent int CHECK (handover_fuel_percent BETWEEN 0 AND 100),
                handover_notes text,
                handover_by uuid,
                handover_at timestamptz,
                return_odometer_km bigint CHECK (return_odometer_km >= 0),
                return_fuel_percent int CHECK (return_fuel_percent BETWEEN 0 AND 100),
                return_notes text,
                return_by uuid,
                return_at timestamptz,
                termination_reason text CHECK (termination_reason IN ('VEHICLE_BREAKDOWN', 'ACCIDENT', 'VENDOR_RECALL',
                    'CORPORATE_RECALL', 'EMPLOYEE_EXIT', 'COMPLIANCE_VIOLATION', 'INSURANCE_EXPIRED', 'ADMIN_ACTION', 'OTHER')),
                terminated_by text,
                terminated_at timestamptz,
                termination_notes text,
                termination_moderation_action uuid,
                version bigint NOT NULL DEFAULT 1 CHECK (version > 0),
                created_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL,
                CONSTRAINT bookings_termination_recorded CHECK (
                    (status = 'TERMINATED') = (termination_reason IS NOT NULL AND terminated_at IS NOT NULL AND terminated_by IS NOT NULL)),
                CONSTRAINT bookings_odometer_forward CHECK (return_odometer_km IS NULL OR return_odometer_km >= handover_odometer_km)
            );
            -- Lists, newest first: a corporate's bookings and a vendor's requests, each with or
            -- without a status filter; the GiST indexes serve the period filter.
            CREATE INDEX bookings_corporate ON booking.bookings (corporate_organization_id, created_at DESC, id DESC);
            CREATE INDEX bookings_corporate_status ON booking.bookings (corporate_organization_id, status, created_at DESC, id DESC);
            CREATE INDEX bookings_vendor ON booking.bookings (vendor_organization_id, created_at DESC, id DESC) WHERE status <> 'DRAFT';
            CREATE INDEX bookings_vendor_status ON booking.bookings (vendor_organization_id, status, created_at DESC, id DESC);
            CREATE INDEX bookings_corporate_period ON booking.bookings USING gist (corporate_organization_id, period);
            CREATE INDEX bookings_vendor_period ON booking.bookings USING gist (vendor_organization_id, period) WHERE status <> 'DRAFT';
            -- An employee's own bookings (their list, and the allocation's counts).
            CREATE INDEX bookings_requester ON booking.bookings (requested_by, created_at DESC, id DESC);
            CREATE INDEX bookings_assignee ON booking.bookings (assignee_id) WHERE assignee_id IS NOT NULL;
            -- The expiry sweep's queue.
            CREATE INDEX bookings_expiring ON booking.bookings (expires_at, id) WHERE status = 'REQUESTED';

            CREATE TABLE booking.allocations (
                corporate_organization_id uuid NOT NULL,
                -- The zero UUID: the corporate's default for every employee.
                employee_id uuid NOT NULL,
                max_active_bookings bigint NOT NULL CHECK (max_active_bookings BETWEEN 0 AND 1000),
                max_days_per_month bigint NOT NULL CHECK (max_days_per_month BETWEEN 0 AND 31),
                updated_by uuid NOT NULL,
                version bigint NOT NULL DEFAULT 1 CHECK (version > 0),
                updated_at timestamptz NOT NULL,
                PRIMARY KEY (corporate_organization_id, employee_id)
            );

            -- One row per employee who ever self-booked: locked before their allocation is counted.
            CREATE TABLE booking.allocation_locks (
                corporate_organization_id uuid NOT NULL,
                employee_id uuid NOT NULL,
                locked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                PRIMARY KEY (corporate_organization_id, employee_id)
            );
            """),
        // PostgreSQL reads a table's CHECK constraints from their stored text (`stringToNode`)
        // and plans them again (`ExecPrepareExpr`) on every INSERT or UPDATE statement, whatever
        // columns it sets: 10.6 KB of node text per statement for `bookings`, about 0.9 such
        // statements per call of the booking lives. A domain's check is read and planned once per
        // session (the type cache) and runs only where a value of its type is assigned. So the
        // single-column rules are domains now, the same rules under their own names; the rules
        // across columns stay CHECKs. The columns change type without a rewrite (each domain is
        // created bare, then given its check, which validates the rows there are) and keep
        // their indexes. One booking's UPDATE alone runs 22 to 28% more per second (pgbench,
        // alternating rounds; README, "Performance").
        Migration(context: "booking", version: 2, name: "single_column_rules_as_domains", sql: """
            ALTER TABLE booking.bookings
                DROP CONSTRAINT bookings_period_check, DROP CONSTRAINT bookings_status_check,
                DROP CONSTRAINT bookings_notes_check, DROP CONSTRAINT bookings_version_check,
                DROP CONSTRAINT bookings_handover_odometer_km_check, DROP CONSTRAINT bookings_return_odometer_km_check,
                DROP CONSTRAINT bookings_handover_fuel_percent_check, DROP CONSTRAINT bookings_return_fuel_percent_check,
                DROP CONSTRAINT bookings_termination_reason_check;
            CREATE DOMAIN booking.booking_period AS tstzrange;
            CREATE DOMAIN booking.booking_status AS text;
            CREATE DOMAIN booking.note_text AS text;
            CREATE DOMAIN booking.row_version AS bigint;
            CREATE DOMAIN booking.odometer_km AS bigint;
            CREATE DOMAIN booking.fuel_percent AS int;
            CREATE DOMAIN booking.termination_reason AS text;
            ALTER TABLE booking.bookings
                ALTER COLUMN period TYPE booking.booking_period,
                ALTER COLUMN status TYPE booking.booking_status,
                ALTER COLUMN notes TYPE booking.note_text,
                ALTER COLUMN version TYPE booking.row_version,
                ALTER COLUMN handover_odometer_km TYPE booking.odometer_km,
                ALTER COLUMN return_odometer_km TYPE booking.odometer_km,
                ALTER COLUMN handover_fuel_percent TYPE booking.fuel_percent,
                ALTER COLUMN return_fuel_percent TYPE booking.fuel_percent,
                ALTER COLUMN termination_reason TYPE booking.termination_reason;
            ALTER DOMAIN booking.booking_period ADD CONSTRAINT booking_period_closed CHECK (
                NOT isempty(VALUE) AND NOT lower_inf(VALUE) AND NOT upper_inf(VALUE) AND lower_inc(VALUE) AND NOT upper_inc(VALUE));
            ALTER DOMAIN booking.booking_status ADD CONSTRAINT booking_status_known CHECK (VALUE IN (
                'DRAFT', 'REQUESTED', 'APPROVED', 'REJECTED', 'ASSIGNED', 'ACTIVE', 'COMPLETED', 'TERMINATED', 'CANCELLED'));
            ALTER DOMAIN booking.note_text ADD CONSTRAINT note_text_length CHECK (length(VALUE) <= 2000);
            ALTER DOMAIN booking.row_version ADD CONSTRAINT row_version_positive CHECK (VALUE > 0);
            ALTER DOMAIN booking.odometer_km ADD CONSTRAINT odometer_km_not_negative CHECK (VALUE >= 0);
            ALTER DOMAIN booking.fuel_percent ADD CONSTRAINT fuel_percent_range CHECK (VALUE BETWEEN 0 AND 100);
            ALTER DOMAIN booking.termination_reason ADD CONSTRAINT termination_reason_known CHECK (VALUE IN ('VEHICLE_BREAKDOWN',
                'ACCIDENT', 'VENDOR_RECALL', 'CORPORATE_RECALL', 'EMPLOYEE_EXIT', 'COMPLIANCE_VIOLATION', 'INSURANCE_EXPIRED', 'ADMIN_ACTION', 'OTHER'));
            """),
    ]
}
