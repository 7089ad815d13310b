public import KaroKarPostgres

/// The Verification context's schema, `verification`. What the database enforces, in every
/// server process and on every write path:
///
/// - statuses, subject types, types and methods are DOMAIN.md's; a type fits its subject;
/// - a verification moves only along the transition table (PENDING -> APPROVED | REJECTED,
///   APPROVED -> EXPIRED | REVOKED), and its subject, tenant, type, method and submission never
///   change; verifications are never deleted (a trigger refuses anything else);
/// - a decided verification has its decision time, a manual one its reviewer;
/// - one PENDING verification per subject and type (a partial unique index: two concurrent
///   submissions cannot both be pending);
/// - every step is one row of `verification.decisions`, an append-only history (updates and
///   deletes refused by a trigger), numbered by the record's version.
public enum VerificationMigrations {
    public static let all: [Migration] = [
        Migration(context: "verification", version: 1, name: "verifications_and_history", sql: """
            CREATE TABLE verification.verifications (
                id uuid PRIMARY KEY,
                subject_type text NOT NULL CHECK (subject_type IN ('ORGANIZATION', 'USER', 'VEHICLE', 'VEHICLE_DOCUMENT')),
                subject_id uuid NOT NULL,
                organization_id uuid NOT NULL,
                type text NOT NULL CHECK (type IN ('BUSINESS_REGISTRATION', 'AUTHORIZED_REPRESENTATIVE', 'IDENTITY', 'DRIVING_LICENSE',
                    'VEHICLE_REGISTRATION', 'INSURANCE', 'FITNESS_CERTIFICATE')),
                method text NOT NULL CHECK (method IN ('MANUAL', 'EXTERNAL')),
                provider text CHECK (length(provider) BETWEEN 1 AND 100),
                provider_reference text CHECK (length(provider_reference) <= 200),
                status text NOT NULL CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED', 'EXPIRED', 'REVOKED')),
                document_refs text[] NOT NULL DEFAULT '{}' CHECK (cardinality(document_refs) <= 20),
                submitted_by text NOT NULL,
                submitted_at timestamptz NOT NULL,
                reviewed_by text,
                reviewed_at timestamptz,
                expires_at timestamptz,
                notes text NOT NULL DEFAULT '' CHECK (length(notes) <= 2000),
                review_notes text CHECK (length(review_notes) <= 2000),
                version bigint NOT NULL DEFAULT 1 CHECK (version > 0),
                updated_at timestamptz NOT NULL,
                CONSTRAINT verifications_provider_named CHECK ((method = 'EXTERNAL') = (provider IS NOT NULL)),
                CONSTRAINT verifications_decided CHECK (
                    CASE WHEN status = 'PENDING' THEN reviewed_at IS NULL AND reviewed_by IS NULL
                    ELSE reviewed_at IS NOT NULL AND (method = 'EXTERNAL' OR reviewed_by IS NOT NULL) END),
                CONSTRAINT verifications_subject_fits CHECK (CASE type
                    WHEN 'BUSINESS_REGISTRATION' THEN subject_type = 'ORGANIZATION'
                    WHEN 'AUTHORIZED_REPRESENTATIVE' THEN subject_type IN ('ORGANIZATION', 'USER')
                    WHEN 'IDENTITY' THEN subject_type = 'USER'
                    WHEN 'DRIVING_LICENSE' THEN subject_type = 'USER'
                    ELSE subject_type IN ('VEHICLE', 'VEHICLE_DOCUMENT') END)
            );
            -- One live request per subject and type.
            CREATE UNIQUE INDEX verifications_one_pending ON verification.verifications (subject_type, subject_id, type)
                WHERE status = 'PENDING';
            -- Lists, newest first: a tenant's, everyone's (platform), a subject's, the reviewers' queue.
            CREATE INDEX verifications_tenant ON verification.verifications (organization_id, submitted_at DESC, id DESC);
            CREATE INDEX verifications_all ON verification.verifications (submitted_at DESC, id DESC);
            CREATE INDEX verifications_subject ON verification.verifications (subject_id, submitted_at DESC, id DESC);
            CREATE INDEX verifications_status ON verification.verifications (status, submitted_at DESC, id DESC);
            -- The expiry sweep's queue.
            CREATE INDEX verifications_expiring ON verification.verifications (expires_at, id) WHERE status = 'APPROVED';

            CREATE FUNCTION verification.check_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    RAISE EXCEPTION 'verifications are never deleted' USING ERRCODE = 'integrity_constraint_violation';
                END IF;
                IF (NEW.id, NEW.subject_type, NEW.subject_id, NEW.organization_id, NEW.type, NEW.method, NEW.submitted_by, NEW.submitted_at)
                   IS DISTINCT FROM (OLD.id, OLD.subject_type, OLD.subject_id, OLD.organization_id, OLD.type, OLD.method, OLD.submitted_by,
                                     OLD.submitted_at) THEN
                    RAISE EXCEPTION 'a verification''s subject and submission never change' USING ERRCODE = 'integrity_constraint_violation';
                END IF;
                IF NOT ((OLD.status = 'PENDING' AND NEW.status IN ('APPROVED', 'REJECTED'))
                        OR (OLD.status = 'APPROVED' AND NEW.status IN ('EXPIRED', 'REVOKED'))) THEN
                    RAISE EXCEPTION 'a verification cannot go from % to %', OLD.status, NEW.status
                        USING ERRCODE = 'integrity_constraint_violation';
                END IF;
                IF NEW.version <> OLD.version + 1 THEN
                    RAISE EXCEPTION 'each change of a verification bumps its version once' USING ERRCODE = 'integrity_constraint_violation';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER verifications_transitions BEFORE UPDATE OR DELETE ON verification.verifications
                FOR EACH ROW EXECUTE FUNCTION verification.check_change();

            -- The history: one row per step, numbered by the record's version after it.
            CREATE TABLE verification.decisions (
                verification_id uuid NOT NULL REFERENCES verification.verifications (id),
                version bigint NOT NULL CHECK (version > 0),
                status text NOT NULL CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED', 'EXPIRED', 'REVOKED')),
                decided_by text NOT NULL,
                decided_at timestamptz NOT NULL,
                notes text NOT NULL DEFAULT '' CHECK (length(notes) <= 2000),
                expires_at timestamptz,
                PRIMARY KEY (verification_id, version)
            );
            CREATE FUNCTION verification.refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'verification history is append-only' USING ERRCODE = 'integrity_constraint_violation';
            END $$;
            CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON verification.decisions
                FOR EACH ROW EXECUTE FUNCTION verification.refuse_history_change();
            CREATE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON verification.decisions
                FOR EACH STATEMENT EXECUTE FUNCTION verification.refuse_history_change();
            """),
        // External providers are asked outside any transaction: the consumer of
        // `verification.submitted` only queues a request here (in the delivery's transaction);
        // workers of any server process claim one at a time (`FOR UPDATE SKIP LOCKED`, a lease),
        // call the provider holding no connection, and apply the answer in a short transaction
        // that also deletes the request.
        Migration(context: "verification", version: 2, name: "provider_requests", sql: """
            CREATE TABLE verification.provider_requests (
                verification_id uuid PRIMARY KEY REFERENCES verification.verifications (id),
                provider text NOT NULL,
                correlation_id text NOT NULL,
                attempts int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                available_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                leased_until timestamptz,
                last_error text
            );
            CREATE INDEX provider_requests_due ON verification.provider_requests (available_at);
            """),
    ]
}
