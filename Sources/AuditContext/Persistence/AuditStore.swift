import Foundation
import KaroKarKernel
import KaroKarPostgres

/// SQL <-> audit records. Appends go through `audit.append_batch` (the chain head's lock, the
/// database's hash); reads are keyset-paged on (occurred_at, sequence).
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

    /// Appends a batch of records in order under one lock of the chain head (`audit.append_batch`;
    /// events recorded already are skipped). Queued to go out with the consumer's commit, in the
    /// same round trip: the head's lock is held only while that pipeline runs and commits. A
    /// failure surfaces at the commit (the relay then delivers the batch one by one).
    static func append(_ records: [NewRecord], _ work: UnitOfWork) {
        guard !records.isEmpty else { return }
        let ids = records.map { _ in UUID.random() }
        work.session.enqueue("""
            SELECT audit.append_batch(
                \(ids)::uuid[], \(records.map(\.eventID))::uuid[], \(records.map(\.eventType))::text[], \(records.map(\.entityType))::text[],
                \(records.map(\.entityID))::text[], \(records.map { $0.actorID ?? "" })::text[], \(records.map(\.actorType.rawValue))::text[],
                \(records.map { $0.organizationID?.lowercasedString ?? "" })::text[], \(records.map(\.occurredAt.postgres))::timestamptz[],
                \(records.map(\.correlationID))::text[], \(records.map { PostgresBytes($0.payload) })::bytea[])
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
