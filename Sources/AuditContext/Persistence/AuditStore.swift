import Crypto
import Foundation
import KaroKarKernel
import KaroKarPostgres

/// SQL <-> audit records. Appends lock the chain head and hash the records in order
/// (``AuditHash``); reads are keyset-paged on (occurred_at, sequence).
enum AuditStore {
    static let columns = SQLFragment(
        "id, sequence, event_id, event_type, entity_type, entity_id, actor_id, actor_type, organization_id, occurred_at, recorded_at, correlation_id, payload, previous_hash, record_hash"
    )

    /// One event's record to append.
    struct NewRecord: Sendable {
        var eventID: UUID
        var eventType: String
        var entityType: String
        var entityID: String
        var actorID: String?
        var actorType: AuditActorType
        var organizationID: UUID?
        var occurredAt: Instant
        var correlationID: String
        var payload: [UInt8]
    }

    /// Appends a batch of records in order at the head of the chain, skipping events recorded
    /// already (a re-read) or twice in the batch: locks `audit.chain_head` (one round trip), reads
    /// which events are recorded (another; after the lock, so a concurrent appender's records
    /// are seen), hashes the records one after another from the head here (``AuditHash``, the
    /// layout `audit.record_hash` recomputes for VerifyChain), and queues one statement that
    /// inserts them and moves the head to go out with the commit. Until events migration 8 and
    /// this, `audit.append_batch` hashed in PL/pgSQL: seven SQL-function calls per record, each
    /// an executor of its own, about 0.13 ms of PostgreSQL per record under the booking benchmark.
    static func append(_ records: [NewRecord], _ work: UnitOfWork, recordedAt: Instant) async throws {
        guard !records.isEmpty else { return }
        // The check for recorded events must read event_id's index whatever the statistics say:
        // planned while audit.records was small (a new server, a benchmark), its cached generic
        // plan scanned the whole table per batch (6 ms a batch at 30,000 records under
        // Deploy/bench-booking.sh). The setting is the transaction's own; the step's other
        // statements are lookups by key.
        work.session.enqueue("SELECT set_config('enable_seqscan', 'off', true)")
        let head = try await work.query("SELECT last_sequence, last_hash FROM audit.chain_head WHERE id = 1 FOR UPDATE").single()
        var sequence = try head.decode(Int64.self, "last_sequence")
        var hash = try head.decode(PostgresBytes.self, "last_hash").bytes
        let known = try await work.query("""
            SELECT event_id FROM audit.records WHERE event_id = ANY(\(records.map(\.eventID))::uuid[])
            """)
        var recorded = Set(try known.map { try $0.decode(UUID.self, "event_id") })
        var ids: [UUID] = [], sequences: [Int64] = [], previous: [PostgresBytes] = [], hashes: [PostgresBytes] = []
        var kept: [NewRecord] = []
        for record in records where recorded.insert(record.eventID).inserted {
            let (next, overflow) = sequence.addingReportingOverflow(1)
            guard !overflow else { throw AuditStoreError.sequenceExhausted }
            let id = UUID.timeOrdered(unixMilliseconds: recordedAt.microseconds / 1000)
            let link = hash
            hash = AuditHash.record(previous: link, sequence: next, id: id, record, recordedAt: recordedAt)
            sequence = next
            ids.append(id)
            sequences.append(next)
            previous.append(PostgresBytes(link))
            hashes.append(PostgresBytes(hash))
            kept.append(record)
        }
        guard !kept.isEmpty else { return }
        work.session.enqueue("""
            WITH added AS (
                INSERT INTO audit.records (id, sequence, event_id, event_type, entity_type, entity_id, actor_id, actor_type,
                                           organization_id, occurred_at, recorded_at, correlation_id, payload, previous_hash, record_hash)
                SELECT x.id, x.sequence, x.event_id, x.event_type, x.entity_type, x.entity_id, nullif(x.actor_id, ''), x.actor_type,
                       nullif(x.organization_id, '')::uuid, x.occurred_at, \(recordedAt.postgres)::timestamptz, x.correlation_id,
                       x.payload, x.previous_hash, x.record_hash
                FROM unnest(\(ids)::uuid[], \(sequences)::int8[], \(kept.map(\.eventID))::uuid[], \(kept.map(\.eventType))::text[],
                            \(kept.map(\.entityType))::text[], \(kept.map(\.entityID))::text[], \(kept.map { $0.actorID ?? "" })::text[],
                            \(kept.map(\.actorType.rawValue))::text[], \(kept.map { $0.organizationID?.lowercasedString ?? "" })::text[],
                            \(kept.map(\.occurredAt.postgres))::timestamptz[], \(kept.map(\.correlationID))::text[],
                            \(kept.map { PostgresBytes($0.payload) })::bytea[], \(previous)::bytea[], \(hashes)::bytea[])
                    AS x (id, sequence, event_id, event_type, entity_type, entity_id, actor_id, actor_type, organization_id,
                          occurred_at, correlation_id, payload, previous_hash, record_hash)
                RETURNING 1
            )
            UPDATE audit.chain_head SET last_sequence = \(sequence)::int8, last_hash = \(PostgresBytes(hash))::bytea
            WHERE id = 1 AND (SELECT count(*) FROM added) = \(kept.count)
            """)
    }

    static func record(_ row: PostgresRow) throws -> AuditRecord {
        AuditRecord(
            id: try row.decode(UUID.self, "id"), sequence: try row.decode(Int64.self, "sequence"),
            eventID: try row.decode(UUID.self, "event_id"), eventType: try row.decode(String.self, "event_type"),
            entityType: try row.decode(String.self, "entity_type"), entityID: try row.decode(String.self, "entity_id"),
            actorID: try row.decode(String?.self, "actor_id"),
            actorType: AuditActorType(rawValue: try row.decode(String.self, "actor_type")) ?? .unspecified,
            organizationID: try row.decode(UUID?.self, "organization_id"),
            occurredAt: Instant(try row.decode(PostgresTimestamp.self, "occurred_at")),
            recordedAt: Instant(try row.decode(PostgresTimestamp.self, "recorded_at")),
            correlationID: try row.decode(String.self, "correlation_id"),
            payload: try row.decode(PostgresBytes.self, "payload").bytes,
            previousHash: try row.decode(PostgresBytes.self, "previous_hash").bytes,
            recordHash: try row.decode(PostgresBytes.self, "record_hash").bytes
        )
    }

    /// One page of records matching `filter` after `key`, newest first unless `oldestFirst`.
    /// Filters absent are folded away by the planner (the statement is planned with its values).
    static func query(_ filter: AuditFilter, after key: AuditKey?, limit: Int, _ work: UnitOfWork) async throws -> [AuditRecord] {
        let keyTime = key?.occurredAt.postgres
        let keySequence = key?.sequence
        let patterns = filter.eventTypes.isEmpty ? nil : filter.likePatterns
        let ascending = filter.oldestFirst
        let order = ascending ? SQLFragment("ORDER BY occurred_at, sequence") : SQLFragment("ORDER BY occurred_at DESC, sequence DESC")
        let rows = try await work.query("""
            SELECT \(columns) FROM audit.records
            WHERE (\(filter.organizationID)::uuid IS NULL OR organization_id = \(filter.organizationID)::uuid)
              AND (\(filter.occurredAfter?.postgres)::timestamptz IS NULL OR occurred_at >= \(filter.occurredAfter?.postgres)::timestamptz)
              AND (\(filter.occurredBefore?.postgres)::timestamptz IS NULL OR occurred_at < \(filter.occurredBefore?.postgres)::timestamptz)
              AND (\(filter.entityType)::text IS NULL OR entity_type = \(filter.entityType))
              AND (\(filter.entityID)::text IS NULL OR entity_id = \(filter.entityID))
              AND (\(filter.actorID)::text IS NULL OR actor_id = \(filter.actorID))
              AND (\(filter.actorType?.rawValue)::text IS NULL OR actor_type = \(filter.actorType?.rawValue))
              AND (\(filter.correlationID)::text IS NULL OR correlation_id = \(filter.correlationID))
              AND (\(patterns)::text[] IS NULL OR event_type LIKE ANY (\(patterns)::text[]))
              AND (\(keyTime)::timestamptz IS NULL
                   OR (\(ascending)::boolean AND (occurred_at, sequence) > (\(keyTime)::timestamptz, \(keySequence)::int8))
                   OR (NOT \(ascending)::boolean AND (occurred_at, sequence) < (\(keyTime)::timestamptz, \(keySequence)::int8)))
            \(order)
            LIMIT \(limit)
            """)
        return try rows.map(record)
    }

    static func record(id: UUID?, eventID: UUID?, _ work: UnitOfWork) async throws -> AuditRecord? {
        let rows = try await work.query("""
            SELECT \(columns) FROM audit.records
            WHERE (\(id)::uuid IS NOT NULL AND id = \(id)::uuid) OR (\(eventID)::uuid IS NOT NULL AND event_id = \(eventID)::uuid)
            """)
        return rows.isEmpty ? nil : try record(rows[0])
    }

    /// Recomputes the chain over [from, to] (nil: the first / the last record).
    static func verify(from: Int64?, to: Int64?, now: Instant, _ work: UnitOfWork) async throws -> ChainReport {
        let head = try await work.query("SELECT last_sequence, last_hash FROM audit.chain_head WHERE id = 1").single()
        let last = try head.decode(Int64.self, "last_sequence")
        let first = max(from ?? 1, 1)
        let upTo = min(to ?? last, last)
        let brokenRows = try await work.query("SELECT sequence, failure FROM audit.first_broken(\(first)::int8, \(upTo)::int8)")
        let broken = brokenRows.isEmpty ? nil : brokenRows[0]
        let stats = try await work.query("""
            SELECT count(*)::int8 AS checked, coalesce(max(sequence), 0)::int8 AS highest,
                   (SELECT record_hash FROM audit.records WHERE sequence = \(upTo)::int8) AS head
            FROM audit.records WHERE sequence BETWEEN \(first)::int8 AND \(upTo)::int8
            """).single()
        let checked = try stats.decode(Int64.self, "checked")
        let headHash = try stats.decode(PostgresBytes?.self, "head")?.bytes ?? []
        var brokenAt = try broken.map { try $0.decode(Int64.self, "sequence") }
        var failure = try broken.map { try $0.decode(String.self, "failure") } ?? ""
        let expected = upTo >= first ? upTo - first + 1 : 0
        if brokenAt == nil, checked != expected {
            // Records missing at the end of the range (or all of it): the head says they exist.
            brokenAt = try stats.decode(Int64.self, "highest") + 1
            failure = "SEQUENCE_GAP"
        }
        if brokenAt == nil, upTo == last, last > 0, headHash != (try head.decode(PostgresBytes.self, "last_hash").bytes) {
            brokenAt = last
            failure = "LINK_MISMATCH"
        }
        return ChainReport(
            intact: brokenAt == nil, firstSequence: first, lastSequence: upTo, recordsChecked: checked,
            firstBrokenSequence: brokenAt, failureCode: failure, headHash: headHash, verifiedAt: now
        )
    }

    /// Events the outbox recorded in [from, to) and whether each has its audit record.
    static func completeness(from: Instant, to: Instant, limit: Int, _ work: UnitOfWork) async throws -> CompletenessReport {
        let counts = try await work.query("""
            SELECT count(*)::int8 AS events, count(r.event_id)::int8 AS audited
            FROM karokar_events.outbox AS o LEFT JOIN audit.records AS r ON r.event_id = o.event_id
            WHERE o.recorded_at >= \(from.postgres)::timestamptz AND o.recorded_at < \(to.postgres)::timestamptz
            """).single()
        let missing = try await work.query("""
            SELECT o.event_id FROM karokar_events.outbox AS o
            WHERE o.recorded_at >= \(from.postgres)::timestamptz AND o.recorded_at < \(to.postgres)::timestamptz
              AND NOT EXISTS (SELECT 1 FROM audit.records AS r WHERE r.event_id = o.event_id)
            ORDER BY o.seq LIMIT \(limit)
            """).map { try $0.decode(UUID.self, "event_id") }
        return CompletenessReport(
            eventsInOutbox: try counts.decode(Int64.self, "events"), eventsAudited: try counts.decode(Int64.self, "audited"),
            missingEventIDs: missing
        )
    }
}

enum AuditStoreError: Error, CustomStringConvertible {
    case sequenceExhausted

    var description: String { "the audit chain's sequence is exhausted" }
}

/// A record's `record_hash`: SHA-256 over the layout of the README ("The hash"), the one
/// `audit.record_hash` recomputes in the database for VerifyChain: `previous_hash`; `sequence`
/// (int8, big-endian); `id` and `event_id` (16 bytes each); the text fields each as its UTF-8
/// length (int4, big-endian) then its bytes (an absent actor or tenant as empty text, a tenant
/// in lower case); `occurred_at` and `recorded_at` as microseconds since the epoch (int8); the
/// correlation id as a text field; the payload's length (int4) then its bytes.
enum AuditHash {
    static func record(previous: [UInt8], sequence: Int64, id: UUID, _ record: AuditStore.NewRecord, recordedAt: Instant) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: previous)
        integer(sequence, into: &hasher)
        uuid(id, into: &hasher)
        uuid(record.eventID, into: &hasher)
        for text in [record.eventType, record.entityType, record.entityID, record.actorID ?? "", record.actorType.rawValue,
                     record.organizationID?.lowercasedString ?? ""] {
            field(text, into: &hasher)
        }
        integer(record.occurredAt.microseconds, into: &hasher)
        integer(recordedAt.microseconds, into: &hasher)
        field(record.correlationID, into: &hasher)
        length(record.payload.count, into: &hasher)
        hasher.update(data: record.payload)
        return Array(hasher.finalize())
    }

    private static func integer(_ value: Int64, into hasher: inout SHA256) {
        withUnsafeBytes(of: value.bigEndian) { hasher.update(bufferPointer: $0) }
    }

    /// An int4 length as PostgreSQL's `int4send` writes it (texts and payloads stay far below 2^31 bytes: PostgreSQL's 1 GB limit).
    private static func length(_ count: Int, into hasher: inout SHA256) {
        withUnsafeBytes(of: Int32(truncatingIfNeeded: count).bigEndian) { hasher.update(bufferPointer: $0) }
    }

    private static func field(_ text: String, into hasher: inout SHA256) {
        let bytes = Array(text.utf8)
        length(bytes.count, into: &hasher)
        hasher.update(data: bytes)
    }

    private static func uuid(_ value: UUID, into hasher: inout SHA256) {
        withUnsafeBytes(of: value.uuid) { hasher.update(bufferPointer: $0) }
    }
}
