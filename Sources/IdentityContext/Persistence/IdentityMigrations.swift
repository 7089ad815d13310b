public import KaroKarPostgres

/// The Identity context's schema, `identity`. The database enforces what it can: one e-mail per
/// user whatever its case, one live membership per user and organization, a role of the
/// organization's type, one platform organization.
public enum IdentityMigrations {
    public static let all: [Migration] = [
        Migration(context: "identity", version: 1, name: "organizations_users_roles_credentials", sql: """
            CREATE TABLE identity.organizations (
                id uuid PRIMARY KEY,
                name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
                type text NOT NULL CHECK (type IN ('PLATFORM', 'VENDOR', 'CORPORATE')),
                status text NOT NULL CHECK (status IN ('PENDING', 'ACTIVE', 'SUSPENDED', 'REJECTED')),
                parent_organization_id uuid REFERENCES identity.organizations (id),
                metadata jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
                version bigint NOT NULL DEFAULT 1 CHECK (version > 0),
                created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
            );
            CREATE UNIQUE INDEX organizations_one_platform ON identity.organizations ((true)) WHERE type = 'PLATFORM';
            CREATE INDEX organizations_listing ON identity.organizations (created_at, id);
            CREATE INDEX organizations_parent ON identity.organizations (parent_organization_id) WHERE parent_organization_id IS NOT NULL;

            CREATE TABLE identity.users (
                id uuid PRIMARY KEY,
                first_name text NOT NULL CHECK (length(first_name) BETWEEN 1 AND 100),
                last_name text NOT NULL CHECK (length(last_name) BETWEEN 1 AND 100),
                email text NOT NULL CHECK (email = lower(email) AND length(email) <= 254),
                phone text,
                status text NOT NULL CHECK (status IN ('ACTIVE', 'DISABLED')),
                password_hash text NOT NULL,
                version bigint NOT NULL DEFAULT 1 CHECK (version > 0),
                created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
            );
            CREATE UNIQUE INDEX users_email_unique ON identity.users (lower(email));

            -- System roles are seeded below, exactly DOMAIN.md's table; ids are fixed so that they
            -- are the same in every installation.
            CREATE TABLE identity.roles (
                id uuid PRIMARY KEY,
                name text NOT NULL,
                organization_type text NOT NULL CHECK (organization_type IN ('PLATFORM', 'VENDOR', 'CORPORATE')),
                description text NOT NULL,
                is_system_role boolean NOT NULL DEFAULT true,
                permissions text[] NOT NULL,
                UNIQUE (organization_type, name)
            );

            CREATE TABLE identity.memberships (
                id uuid PRIMARY KEY,
                user_id uuid NOT NULL REFERENCES identity.users (id),
                organization_id uuid NOT NULL REFERENCES identity.organizations (id),
                role_id uuid NOT NULL REFERENCES identity.roles (id),
                status text NOT NULL CHECK (status IN ('INVITED', 'ACTIVE', 'SUSPENDED', 'REMOVED')),
                version bigint NOT NULL DEFAULT 1 CHECK (version > 0),
                created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
            );
            -- Removed memberships stay as history; a user re-added gets a new one (so tokens of the
            -- old one never come back to life).
            CREATE UNIQUE INDEX memberships_one_per_user_and_org ON identity.memberships (user_id, organization_id)
                WHERE status <> 'REMOVED';
            CREATE INDEX memberships_of_organization ON identity.memberships (organization_id, created_at, id);
            CREATE INDEX memberships_of_user ON identity.memberships (user_id, created_at, id);

            CREATE VIEW identity.membership_details AS
                SELECT m.*, r.name AS role_name FROM identity.memberships m JOIN identity.roles r ON r.id = m.role_id;

            CREATE FUNCTION identity.membership_role_fits() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NOT EXISTS (
                    SELECT 1 FROM identity.roles r JOIN identity.organizations o ON o.type = r.organization_type
                    WHERE r.id = NEW.role_id AND o.id = NEW.organization_id
                ) THEN
                    RAISE EXCEPTION 'role of another organization type' USING ERRCODE = 'check_violation',
                        CONSTRAINT = 'memberships_role_fits_organization';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER memberships_role_fits BEFORE INSERT OR UPDATE OF role_id, organization_id
                ON identity.memberships FOR EACH ROW EXECUTE FUNCTION identity.membership_role_fits();

            INSERT INTO identity.roles (id, name, organization_type, description, permissions) VALUES
            ('62bdba47-317f-4dac-8c6d-b78e6b2e8215', 'PLATFORM_ADMIN', 'PLATFORM',
             'KaroKar operator: onboards, approves and suspends organizations, reviews verifications, moderates, reads everything',
             '{organization.read,organization.approve,member.manage,member.read,vehicle.read,vehicle.update,vehicle.suspend,vehicle.search,booking.read,booking.terminate,assignment.read,verification.review,verification.read,audit.read,notification.read}'),
            ('4fabe587-cfbd-44a9-947b-f70ab6091f57', 'VENDOR_ADMIN', 'VENDOR',
             'Runs a vendor: its team, its fleet, its booking requests',
             '{organization.read,member.manage,member.read,vehicle.create,vehicle.read,vehicle.update,vehicle.suspend,booking.read,booking.approve,verification.submit,verification.read,audit.read,notification.read}'),
            ('f6f261c9-6d71-44b1-aa56-961ff408b173', 'VENDOR_STAFF', 'VENDOR',
             'Works a vendor''s fleet and booking requests',
             '{organization.read,member.read,vehicle.read,vehicle.update,booking.read,booking.approve,verification.submit,verification.read,notification.read}'),
            ('5c2c6d31-8158-4006-933d-6e0320c09ff1', 'CORPORATE_ADMIN', 'CORPORATE',
             'Runs a corporate: its team, its own fleet, its bookings and assignments',
             '{organization.read,member.manage,member.read,vehicle.create,vehicle.read,vehicle.update,vehicle.suspend,vehicle.search,booking.create,booking.submit,booking.cancel,booking.read,booking.assign,booking.activate,booking.complete,booking.terminate,assignment.create,assignment.manage,assignment.read,verification.submit,verification.read,audit.read,notification.read}'),
            ('0a7ae313-d6d7-4e6b-bc54-c7864c1bd332', 'FLEET_MANAGER', 'CORPORATE',
             'Books vehicles and assigns them to employees',
             '{organization.read,member.read,vehicle.create,vehicle.read,vehicle.update,vehicle.search,booking.create,booking.submit,booking.cancel,booking.read,booking.assign,booking.activate,booking.complete,booking.terminate,assignment.create,assignment.manage,assignment.read,verification.submit,verification.read,notification.read}'),
            ('2cc19f84-6b0b-4ba7-b58a-cf31bde5c7f8', 'EMPLOYEE', 'CORPORATE',
             'Receives and uses vehicles assigned to them',
             '{organization.read,vehicle.read,assignment.read_own,assignment.accept,notification.read}');

            CREATE TABLE identity.service_accounts (
                id uuid PRIMARY KEY,
                organization_id uuid NOT NULL REFERENCES identity.organizations (id),
                name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
                description text,
                permissions text[] NOT NULL,
                status text NOT NULL CHECK (status IN ('ACTIVE', 'REVOKED')),
                secret_hash bytea NOT NULL,
                -- Bumped by each rotation; tokens carry it, so rotation ends the tokens of older secrets.
                secret_generation bigint NOT NULL DEFAULT 1,
                created_by uuid NOT NULL,
                secret_rotated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                revoked_at timestamptz,
                version bigint NOT NULL DEFAULT 1 CHECK (version > 0),
                created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
            );
            CREATE UNIQUE INDEX service_accounts_name_unique ON identity.service_accounts (organization_id, lower(name))
                WHERE status = 'ACTIVE';
            CREATE INDEX service_accounts_of_organization ON identity.service_accounts (organization_id, created_at, id);

            -- Refresh tokens: SHA-256 of the opaque secret, single use. A used token presented again
            -- revokes its whole family (it was stolen, or replayed).
            CREATE TABLE identity.refresh_tokens (
                token_hash bytea PRIMARY KEY,
                family_id uuid NOT NULL,
                membership_id uuid NOT NULL REFERENCES identity.memberships (id),
                user_id uuid NOT NULL REFERENCES identity.users (id),
                issued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                expires_at timestamptz NOT NULL,
                used_at timestamptz,
                revoked_at timestamptz
            );
            CREATE INDEX refresh_tokens_family ON identity.refresh_tokens (family_id);
            CREATE INDEX refresh_tokens_live_of_user ON identity.refresh_tokens (user_id)
                WHERE used_at IS NULL AND revoked_at IS NULL;

            -- Consecutive failed logins per account, shared by every server process.
            CREATE TABLE identity.login_failures (
                user_id uuid PRIMARY KEY REFERENCES identity.users (id),
                failures int NOT NULL CHECK (failures > 0),
                locked_until timestamptz,
                last_failure_at timestamptz NOT NULL DEFAULT clock_timestamp()
            );

            -- Development only: the token signing key generated on first start when none is
            -- configured, shared by every instance on this database.
            CREATE TABLE identity.signing_keys (
                algorithm text PRIMARY KEY,
                key_material bytea NOT NULL,
                created_at timestamptz NOT NULL DEFAULT clock_timestamp()
            );
            """),
        // DOMAIN.md's table gained the Booking context's permissions (issue 16): allocations for
        // the corporate's managers and the platform, and employees' own bookings within the
        // allocation. Appended to the seeded system roles, each permission once.
        Migration(context: "identity", version: 2, name: "booking_and_allocation_permissions", sql: """
            CREATE FUNCTION pg_temp.grant_permissions(role uuid, added text[]) RETURNS void LANGUAGE sql AS $$
                UPDATE identity.roles SET permissions = ARRAY(SELECT DISTINCT p FROM unnest(permissions || added) AS p ORDER BY p)
                WHERE id = role;
            $$;
            SELECT pg_temp.grant_permissions('62bdba47-317f-4dac-8c6d-b78e6b2e8215', '{allocation.read}');
            SELECT pg_temp.grant_permissions('5c2c6d31-8158-4006-933d-6e0320c09ff1', '{allocation.manage,allocation.read}');
            SELECT pg_temp.grant_permissions('0a7ae313-d6d7-4e6b-bc54-c7864c1bd332', '{allocation.manage,allocation.read}');
            SELECT pg_temp.grant_permissions('2cc19f84-6b0b-4ba7-b58a-cf31bde5c7f8',
                '{booking.create_own,booking.submit_own,booking.cancel_own,booking.read_own,allocation.read_own}');
            """),
        Migration(context: "identity", version: 3, name: "accepted_memberships_sessions_login_failures_per_address", sql: """
            -- When the user accepted the membership (logged in for it; memberships made ACTIVE are
            -- accepted when made). An organization sees a user's names and phone only through a
            -- membership the user accepted, whatever its status later (REMOVED included).
            ALTER TABLE identity.memberships ADD COLUMN accepted_at timestamptz;
            -- Rows from before, erring toward privacy: live ACTIVE or SUSPENDED ones were accepted (or
            -- made ACTIVE); a REMOVED one only if the user signed in for it (a refresh token names it)
            -- or it is the user's first membership (the organization created the user and typed their
            -- details). Any other REMOVED one stays unaccepted.
            UPDATE identity.memberships SET accepted_at = updated_at WHERE status IN ('ACTIVE', 'SUSPENDED');
            UPDATE identity.memberships m SET accepted_at = m.updated_at
            WHERE m.status = 'REMOVED' AND (
                EXISTS (SELECT 1 FROM identity.refresh_tokens t WHERE t.membership_id = m.id)
                OR NOT EXISTS (
                    SELECT 1 FROM identity.memberships e WHERE e.user_id = m.user_id AND (e.created_at, e.id) < (m.created_at, m.id)
                )
            );
            ALTER TABLE identity.memberships ADD CONSTRAINT memberships_accepted_when_live CHECK (
                CASE status WHEN 'INVITED' THEN accepted_at IS NULL WHEN 'REMOVED' THEN true ELSE accepted_at IS NOT NULL END
            );
            -- The view's m.* was expanded when it was made: make it again to include accepted_at.
            DROP VIEW identity.membership_details;
            CREATE VIEW identity.membership_details AS
                SELECT m.*, r.name AS role_name FROM identity.memberships m JOIN identity.roles r ON r.id = m.role_id;

            -- Sessions (refresh-token families) revoked lately, read with a membership's principal:
            -- their access tokens stop working at once.
            CREATE INDEX refresh_tokens_revoked_of_membership ON identity.refresh_tokens (membership_id, revoked_at)
                WHERE revoked_at IS NOT NULL;

            -- Failed logins per account and client address (the account is the SHA-256 of the e-mail
            -- as typed, known or not; the client the address's key, both written by the server
            -- only). The counts of the per-account table are dropped: transient, and they lock
            -- nobody out any more.
            DROP TABLE identity.login_failures;
            CREATE TABLE identity.login_failures (
                account bytea NOT NULL,
                client text NOT NULL,
                failures int NOT NULL CHECK (failures > 0),
                locked_until timestamptz,
                last_failure_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                PRIMARY KEY (account, client)
            );
            CREATE INDEX login_failures_recent ON identity.login_failures (account, last_failure_at);
            CREATE INDEX login_failures_stale ON identity.login_failures (last_failure_at);
            """),
        // Operating the event platform (issue 17): consumer lag and dead letters, for platform
        // administrators.
        Migration(context: "identity", version: 4, name: "events_manage_permission", sql: """
            UPDATE identity.roles SET permissions = ARRAY(SELECT DISTINCT p FROM unnest(permissions || '{events.manage}'::text[]) AS p ORDER BY p)
            WHERE id = '62bdba47-317f-4dac-8c6d-b78e6b2e8215';
            """),
    ]
}
