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
    ]
}
