public import KaroKarPostgres

/// The Audit context's schema, `audit` (DOMAIN.md section 10): one record per event, hash-chained
/// in one global chain, immutable in the database (a trigger refuses UPDATE, DELETE and TRUNCATE
/// for every role, the table's owner included, and those privileges are revoked from the owner,
/// so the application's role is refused before the trigger runs).
///
/// Appends go through `audit.append`, which locks the chain head, so appends from any number of
/// consumers in any number of processes are serialized: sequence numbers without gaps, each
/// record linking to the one committed before it. The record's hash is computed by the database
/// (`audit.record_hash`, layout in the context's README), so no process can append a record whose
/// hash does not match its fields.
public enum AuditMigrations {
    public static let all: [Migration] = [
        Migration(context: "audit", version: 1, name: "records_chain", sql: """
            CREATE TABLE audit.records (
                id uuid PRIMARY KEY,
                sequence bigint NOT NULL UNIQUE CHECK (sequence > 0),
                event_id uuid NOT NULL UNIQUE,
                event_type text NOT NULL,
                entity_type text NOT NULL,
                entity_id text NOT NULL,
                actor_id text,
                actor_type text NOT NULL CHECK (actor_type IN ('USER', 'SERVICE_ACCOUNT', 'SYSTEM', 'UNSPECIFIED')),
                organization_id uuid,
                occurred_at timestamptz NOT NULL,
                recorded_at timestamptz NOT NULL,
                correlation_id text NOT NULL,
                payload bytea NOT NULL,
                previous_hash bytea NOT NULL CHECK (length(previous_hash) = 32),
                record_hash bytea NOT NULL CHECK (length(record_hash) = 32)
            );
            -- The queries: by tenant and time, entity, actor, event type, and all (platform), each
            -- keyset-paged on (occurred_at, sequence).
            CREATE INDEX records_tenant_time ON audit.records (organization_id, occurred_at, sequence);
            CREATE INDEX records_entity ON audit.records (entity_type, entity_id, occurred_at, sequence);
            CREATE INDEX records_actor ON audit.records (actor_id, occurred_at, sequence);
            CREATE INDEX records_type ON audit.records (event_type, occurred_at, sequence);
            CREATE INDEX records_time ON audit.records (occurred_at, sequence);

            -- The chain's head: the last record's sequence and hash. Its row lock serializes appends.
            CREATE TABLE audit.chain_head (
                id int PRIMARY KEY CHECK (id = 1),
                last_sequence bigint NOT NULL,
                last_hash bytea NOT NULL
            );
            INSERT INTO audit.chain_head VALUES (1, 0, '\\x0000000000000000000000000000000000000000000000000000000000000000');

            -- A text field as hashed: its UTF-8 length (4 bytes, big-endian), then its bytes.
            CREATE FUNCTION audit.field(t text) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
                SELECT int4send(octet_length(convert_to(coalesce(t, ''), 'UTF8'))) || convert_to(coalesce(t, ''), 'UTF8')
            $$;
            CREATE FUNCTION audit.micros(t timestamptz) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
                SELECT int8send((extract(epoch FROM t) * 1000000)::int8)
            $$;
            -- SHA-256 over the record's fields and previous_hash (the README's layout).
            CREATE FUNCTION audit.record_hash(
                p_previous bytea, p_sequence bigint, p_id uuid, p_event_id uuid, p_event_type text, p_entity_type text,
                p_entity_id text, p_actor_id text, p_actor_type text, p_organization uuid, p_occurred timestamptz,
                p_recorded timestamptz, p_correlation text, p_payload bytea
            ) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
                SELECT sha256(p_previous || int8send(p_sequence) || uuid_send(p_id) || uuid_send(p_event_id)
                    || audit.field(p_event_type) || audit.field(p_entity_type) || audit.field(p_entity_id)
                    || audit.field(p_actor_id) || audit.field(p_actor_type) || audit.field(p_organization::text)
                    || audit.micros(p_occurred) || audit.micros(p_recorded) || audit.field(p_correlation)
                    || int4send(length(p_payload)) || p_payload)
            $$;

            -- Appends one event's record at the head of the chain; false when the event is recorded
            -- already (a redelivery), which changes nothing.
            CREATE FUNCTION audit.append(
                p_id uuid, p_event_id uuid, p_event_type text, p_entity_type text, p_entity_id text, p_actor_id text,
                p_actor_type text, p_organization uuid, p_occurred timestamptz, p_correlation text, p_payload bytea
            ) RETURNS boolean LANGUAGE plpgsql AS $$
            DECLARE
                h audit.chain_head;
                v_recorded timestamptz := date_trunc('microseconds', clock_timestamp());
                v_hash bytea;
            BEGIN
                SELECT * INTO h FROM audit.chain_head WHERE id = 1 FOR UPDATE;
                IF EXISTS (SELECT 1 FROM audit.records WHERE event_id = p_event_id) THEN
                    RETURN false;
                END IF;
                v_hash := audit.record_hash(h.last_hash, h.last_sequence + 1, p_id, p_event_id, p_event_type, p_entity_type,
                                            p_entity_id, p_actor_id, p_actor_type, p_organization, p_occurred, v_recorded,
                                            p_correlation, p_payload);
                INSERT INTO audit.records VALUES (
                    p_id, h.last_sequence + 1, p_event_id, p_event_type, p_entity_type, p_entity_id, p_actor_id, p_actor_type,
                    p_organization, p_occurred, v_recorded, p_correlation, p_payload, h.last_hash, v_hash);
                UPDATE audit.chain_head SET last_sequence = h.last_sequence + 1, last_hash = v_hash WHERE id = 1;
                RETURN true;
            END
            $$;

            -- Immutable: refused for every role (a superuser can only get past it by disabling
            -- the trigger, which VerifyChain then exposes).
            CREATE FUNCTION audit.records_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit records are immutable (%)', TG_OP USING ERRCODE = 'restrict_violation';
            END
            $$;
            CREATE TRIGGER records_immutable BEFORE UPDATE OR DELETE ON audit.records
                FOR EACH ROW EXECUTE FUNCTION audit.records_are_immutable();
            CREATE TRIGGER records_no_truncate BEFORE TRUNCATE ON audit.records
                FOR EACH STATEMENT EXECUTE FUNCTION audit.records_are_immutable();
            CREATE TRIGGER chain_head_no_delete BEFORE DELETE OR TRUNCATE ON audit.chain_head
                FOR EACH STATEMENT EXECUTE FUNCTION audit.records_are_immutable();
            REVOKE UPDATE, DELETE, TRUNCATE ON audit.records FROM PUBLIC, CURRENT_USER;
            REVOKE DELETE, TRUNCATE ON audit.chain_head FROM PUBLIC, CURRENT_USER;

            -- The first record in [p_from, p_to] that does not hold: its hash does not match its
            -- fields (HASH_MISMATCH), it does not link to its predecessor's hash (LINK_MISMATCH),
            -- or a sequence number is missing (SEQUENCE_GAP). No row: intact.
            CREATE FUNCTION audit.first_broken(p_from bigint, p_to bigint)
                RETURNS TABLE (sequence bigint, failure text) LANGUAGE sql STABLE AS $$
                SELECT r.sequence, CASE
                    WHEN r.sequence <> coalesce(r.expected_sequence, greatest(p_from - 1, 1)) THEN 'SEQUENCE_GAP'
                    WHEN r.sequence = 1 AND r.previous_hash <> '\\x0000000000000000000000000000000000000000000000000000000000000000' THEN 'LINK_MISMATCH'
                    WHEN r.expected_previous IS NOT NULL AND r.previous_hash <> r.expected_previous THEN 'LINK_MISMATCH'
                    ELSE 'HASH_MISMATCH' END
                FROM (
                    SELECT x.*, lag(x.record_hash) OVER w AS expected_previous, lag(x.sequence) OVER w + 1 AS expected_sequence,
                           audit.record_hash(x.previous_hash, x.sequence, x.id, x.event_id, x.event_type, x.entity_type, x.entity_id,
                               x.actor_id, x.actor_type, x.organization_id, x.occurred_at, x.recorded_at, x.correlation_id, x.payload) AS recomputed
                    FROM audit.records AS x
                    WHERE x.sequence BETWEEN greatest(p_from - 1, 1) AND p_to
                    WINDOW w AS (ORDER BY x.sequence)
                ) AS r
                WHERE r.sequence >= p_from AND (
                    r.sequence <> coalesce(r.expected_sequence, greatest(p_from - 1, 1))
                    OR (r.sequence = p_from AND p_from = 1 AND r.previous_hash <> '\\x0000000000000000000000000000000000000000000000000000000000000000')
                    OR (r.expected_previous IS NOT NULL AND r.previous_hash <> r.expected_previous)
                    OR r.record_hash <> r.recomputed)
                ORDER BY r.sequence
                LIMIT 1
            $$;
            """),
        // Appends a whole batch of the consumer's deliveries under one lock of the chain head: the
        // hashes are still the database's (audit.record_hash, row after row), but there is one
        // function call, one INSERT and one move of the head per batch instead of one of each per
        // event (a head updated once per event also grows a chain of row versions the next lock
        // has to walk). Events recorded already (a redelivery) or twice in the batch are skipped.
        // Text arrays carry '' for an absent actor or tenant (array elements cannot be NULL here).
        Migration(context: "audit", version: 2, name: "append_batch", sql: """
            CREATE FUNCTION audit.append_batch(
                p_ids uuid[], p_event_ids uuid[], p_event_types text[], p_entity_types text[], p_entity_ids text[],
                p_actor_ids text[], p_actor_types text[], p_organizations text[], p_occurred timestamptz[],
                p_correlations text[], p_payloads bytea[]
            ) RETURNS integer LANGUAGE plpgsql AS $$
            DECLARE
                h audit.chain_head;
                v_recorded timestamptz := date_trunc('microseconds', clock_timestamp());
                v_existing uuid[];
                v_sequence bigint;
                v_hash bytea;
                v_rows int[] := '{}';
                v_sequences bigint[] := '{}';
                v_previous bytea[] := '{}';
                v_hashes bytea[] := '{}';
                n int := coalesce(array_length(p_event_ids, 1), 0);
            BEGIN
                IF n = 0 THEN RETURN 0; END IF;
                SELECT * INTO h FROM audit.chain_head WHERE id = 1 FOR UPDATE;
                SELECT coalesce(array_agg(event_id), '{}') INTO v_existing FROM audit.records WHERE event_id = ANY (p_event_ids);
                v_sequence := h.last_sequence;
                v_hash := h.last_hash;
                FOR i IN 1..n LOOP
                    CONTINUE WHEN p_event_ids[i] = ANY (v_existing);
                    v_existing := v_existing || p_event_ids[i];
                    v_sequence := v_sequence + 1;
                    v_previous := v_previous || v_hash;
                    v_hash := audit.record_hash(v_hash, v_sequence, p_ids[i], p_event_ids[i], p_event_types[i], p_entity_types[i],
                                                p_entity_ids[i], nullif(p_actor_ids[i], ''), p_actor_types[i],
                                                nullif(p_organizations[i], '')::uuid, p_occurred[i], v_recorded, p_correlations[i],
                                                p_payloads[i]);
                    v_rows := v_rows || i;
                    v_sequences := v_sequences || v_sequence;
                    v_hashes := v_hashes || v_hash;
                END LOOP;
                IF coalesce(array_length(v_rows, 1), 0) = 0 THEN RETURN 0; END IF;
                INSERT INTO audit.records
                SELECT p_ids[x.i], x.sequence, p_event_ids[x.i], p_event_types[x.i], p_entity_types[x.i], p_entity_ids[x.i],
                       nullif(p_actor_ids[x.i], ''), p_actor_types[x.i], nullif(p_organizations[x.i], '')::uuid, p_occurred[x.i],
                       v_recorded, p_correlations[x.i], p_payloads[x.i], x.previous, x.hash
                FROM unnest(v_rows, v_sequences, v_previous, v_hashes) AS x (i, sequence, previous, hash);
                UPDATE audit.chain_head SET last_sequence = v_sequence, last_hash = v_hash WHERE id = 1;
                RETURN array_length(v_rows, 1);
            END
            $$;
            """),
            // The records are hashed by the appender now (AuditStore.append, AuditHash), in the layout
        // audit.record_hash keeps recomputing for VerifyChain: the two append functions, which
        // hashed in PL/pgSQL, have no caller left.
        Migration(context: "audit", version: 3, name: "appender_hashes", sql: """
            DROP FUNCTION audit.append_batch(uuid[], uuid[], text[], text[], text[], text[], text[], text[], timestamptz[], text[], bytea[]);
            DROP FUNCTION audit.append(uuid, uuid, text, text, text, text, text, uuid, timestamptz, text, bytea);
            """),
]
}
