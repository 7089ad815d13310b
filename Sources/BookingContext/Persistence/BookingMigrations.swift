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
    ]
}
