public import KaroKarPostgres

/// The Administration context's schema, `administration`: its read model of organizations (from
/// Identity's `organization.registered` and its own decisions), the append-only approval history
/// and the moderation log. The database refuses changes to history rows.
public enum AdministrationMigrations {
    public static let all: [Migration] = [
        Migration(context: "administration", version: 1, name: "approvals_and_moderation", sql: """
            CREATE TABLE administration.organizations (
                organization_id uuid PRIMARY KEY,
                name text NOT NULL,
                organization_type text NOT NULL CHECK (organization_type IN ('PLATFORM', 'VENDOR', 'CORPORATE')),
                status text NOT NULL CHECK (status IN ('PENDING', 'ACTIVE', 'SUSPENDED', 'REJECTED')),
                applicant_user_id uuid NOT NULL,
                registered_at timestamptz NOT NULL,
                version bigint NOT NULL CHECK (version > 0)
            );
            CREATE INDEX organizations_pending ON administration.organizations (registered_at, organization_id) WHERE status = 'PENDING';

            CREATE TABLE administration.approvals (
                id uuid PRIMARY KEY,
                sequence bigserial NOT NULL UNIQUE,
                organization_id uuid NOT NULL REFERENCES administration.organizations (organization_id),
                status text NOT NULL CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED', 'REVOKED', 'REINSTATED')),
                reviewed_by uuid,
                reviewer_organization_id uuid,
                reviewed_at timestamptz,
                notes text,
                created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                CHECK ((status = 'PENDING') = (reviewed_by IS NULL))
            );
            CREATE INDEX approvals_history ON administration.approvals (organization_id, sequence);

            CREATE TABLE administration.moderation_actions (
                id uuid PRIMARY KEY,
                action_type text NOT NULL CHECK (action_type IN ('SUSPEND_VEHICLE', 'BLOCK_VEHICLE', 'TERMINATE_BOOKING', 'DISABLE_USER')),
                target_type text NOT NULL CHECK (target_type IN ('vehicle', 'booking', 'user')),
                target_id uuid NOT NULL,
                notes text NOT NULL,
                performed_by uuid NOT NULL,
                performer_organization_id uuid NOT NULL,
                performed_at timestamptz NOT NULL DEFAULT clock_timestamp()
            );
            CREATE INDEX moderation_actions_recent ON administration.moderation_actions (performed_at DESC, id DESC);
            CREATE INDEX moderation_actions_target ON administration.moderation_actions (target_id, performed_at DESC);

            -- History is appended, never rewritten.
            CREATE FUNCTION administration.refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
            END $$;
            CREATE TRIGGER approvals_append_only BEFORE UPDATE OR DELETE ON administration.approvals
                FOR EACH ROW EXECUTE FUNCTION administration.refuse_history_change();
            CREATE TRIGGER approvals_no_truncate BEFORE TRUNCATE ON administration.approvals
                FOR EACH STATEMENT EXECUTE FUNCTION administration.refuse_history_change();
            CREATE TRIGGER moderation_append_only BEFORE UPDATE OR DELETE ON administration.moderation_actions
                FOR EACH ROW EXECUTE FUNCTION administration.refuse_history_change();
            CREATE TRIGGER moderation_no_truncate BEFORE TRUNCATE ON administration.moderation_actions
                FOR EACH STATEMENT EXECUTE FUNCTION administration.refuse_history_change();
            """),
        // The dashboard's booking counts: each booking's latest status, from Booking's events
        // (an after-commit consumer; a later version never yields to an earlier one).
        Migration(context: "administration", version: 2, name: "booking_read_model", sql: """
            CREATE TABLE administration.bookings (
                booking_id uuid PRIMARY KEY,
                status text NOT NULL CHECK (status IN (
                    'DRAFT', 'REQUESTED', 'APPROVED', 'REJECTED', 'ASSIGNED', 'ACTIVE', 'COMPLETED', 'TERMINATED', 'CANCELLED')),
                version bigint NOT NULL
            );
            CREATE INDEX bookings_status ON administration.bookings (status);
            """),
        // The dashboard's vehicle counts: each vehicle's latest lifecycle status, from Fleet's
        // vehicle.registered|activated|suspended|suspension_lifted|retired events (an
        // after-commit consumer; a later version never yields to an earlier one).
        Migration(context: "administration", version: 3, name: "vehicle_read_model", sql: """
            CREATE TABLE administration.vehicles (
                vehicle_id uuid PRIMARY KEY,
                status text NOT NULL CHECK (status IN ('PENDING', 'ACTIVE', 'SUSPENDED', 'RETIRED')),
                version bigint NOT NULL
            );
            CREATE INDEX vehicles_status ON administration.vehicles (status);
            """),
    ]
}
