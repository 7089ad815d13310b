public import KaroKarPostgres

/// The Assignment context's schema, `assignment`. What the database enforces: statuses and close
/// reasons are DOMAIN.md's; a booking has at most one live (PENDING, ACCEPTED or ACTIVE)
/// assignment, so two reassignments or a reassignment racing a `booking.assigned` cannot leave
/// two employees holding one booking.
public enum AssignmentMigrations {
    public static let all: [Migration] = [
        Migration(context: "assignment", version: 1, name: "assignments", sql: """
            CREATE TABLE assignment.assignments (
                id uuid PRIMARY KEY,
                booking_id uuid,
                vehicle_id uuid NOT NULL,
                corporate_organization_id uuid NOT NULL,
                employee_id uuid NOT NULL,
                period tstzrange NOT NULL CHECK (NOT isempty(period) AND NOT lower_inf(period) AND lower_inc(period) AND NOT upper_inc(period)),
                status text NOT NULL CHECK (status IN ('PENDING', 'ACCEPTED', 'REJECTED', 'ACTIVE', 'COMPLETED', 'CLOSED')),
                created_by text NOT NULL,
                responded_at timestamptz,
                rejection_reason text,
                activated_at timestamptz,
                completed_at timestamptz,
                closed_at timestamptz,
                closed_by uuid,
                close_reason text CHECK (close_reason IN ('REASSIGNED', 'CORPORATE_ACTION', 'ADMIN_ACTION', 'BOOKING_CANCELLED', 'BOOKING_TERMINATED')),
                close_notes text,
                -- A reassignment closes the old one (naming its replacement) before the new one
                -- exists: checked at commit.
                replaces_assignment_id uuid REFERENCES assignment.assignments (id) DEFERRABLE INITIALLY DEFERRED,
                replaced_by_assignment_id uuid REFERENCES assignment.assignments (id) DEFERRABLE INITIALLY DEFERRED,
                -- Set when the booking completed, was cancelled or terminated: no reassignment after.
                booking_ended boolean NOT NULL DEFAULT false,
                version bigint NOT NULL DEFAULT 1 CHECK (version > 0),
                created_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL,
                -- A booking's assignment covers the booking's (closed) period.
                CHECK (booking_id IS NULL OR NOT upper_inf(period)),
                CONSTRAINT assignments_closed_with_reason CHECK ((status = 'CLOSED') = (close_reason IS NOT NULL AND closed_at IS NOT NULL))
            );
            CREATE UNIQUE INDEX assignments_one_live_per_booking ON assignment.assignments (booking_id)
                WHERE booking_id IS NOT NULL AND status IN ('PENDING', 'ACCEPTED', 'ACTIVE');
            CREATE INDEX assignments_corporate ON assignment.assignments (corporate_organization_id, created_at DESC, id DESC);
            CREATE INDEX assignments_employee ON assignment.assignments (employee_id, created_at DESC, id DESC);
            CREATE INDEX assignments_booking ON assignment.assignments (booking_id, created_at DESC) WHERE booking_id IS NOT NULL;
            """),
        // The single-column rules as domains, as Booking's migration 2 explains: PostgreSQL reads
        // and plans a table's CHECKs again on every INSERT or UPDATE (5.8 KB of node text per
        // statement here, about 0.6 such statements per call of the booking lives), a domain's
        // once per session. Same rules; the rules across columns stay CHECKs; no rewrite.
        Migration(context: "assignment", version: 2, name: "single_column_rules_as_domains", sql: """
            ALTER TABLE assignment.assignments
                DROP CONSTRAINT assignments_period_check, DROP CONSTRAINT assignments_status_check,
                DROP CONSTRAINT assignments_close_reason_check, DROP CONSTRAINT assignments_version_check;
            CREATE DOMAIN assignment.assignment_period AS tstzrange;
            CREATE DOMAIN assignment.assignment_status AS text;
            CREATE DOMAIN assignment.close_reason AS text;
            CREATE DOMAIN assignment.row_version AS bigint;
            ALTER TABLE assignment.assignments
                ALTER COLUMN period TYPE assignment.assignment_period,
                ALTER COLUMN status TYPE assignment.assignment_status,
                ALTER COLUMN close_reason TYPE assignment.close_reason,
                ALTER COLUMN version TYPE assignment.row_version;
            ALTER DOMAIN assignment.assignment_period ADD CONSTRAINT assignment_period_started CHECK (
                NOT isempty(VALUE) AND NOT lower_inf(VALUE) AND lower_inc(VALUE) AND NOT upper_inc(VALUE));
            ALTER DOMAIN assignment.assignment_status ADD CONSTRAINT assignment_status_known CHECK (VALUE IN (
                'PENDING', 'ACCEPTED', 'REJECTED', 'ACTIVE', 'COMPLETED', 'CLOSED'));
            ALTER DOMAIN assignment.close_reason ADD CONSTRAINT close_reason_known CHECK (VALUE IN (
                'REASSIGNED', 'CORPORATE_ACTION', 'ADMIN_ACTION', 'BOOKING_CANCELLED', 'BOOKING_TERMINATED'));
            ALTER DOMAIN assignment.row_version ADD CONSTRAINT row_version_positive CHECK (VALUE > 0);
            """),
    ]
}
