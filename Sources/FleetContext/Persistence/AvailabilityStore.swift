import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres

/// SQL of the availability timeline, `fleet.availability`. Conflicts are decided by the
/// database (see ``FleetMigrations``); this code only asks it.
enum AvailabilityStore {
    static let columns = SQLFragment("""
        a.id, a.vehicle_id, a.organization_id, a.period, a.status, a.source_type, a.source_id, a.created_at, a.released_at, a.version
        """)

    /// No open record of any status overlaps `period`.
    static func isFree(_ vehicle: UUID, _ period: PostgresTimestampRange, _ work: UnitOfWork) async throws -> Bool {
        try await work.query("""
            SELECT NOT EXISTS (
                SELECT 1 FROM fleet.availability AS a
                WHERE a.vehicle_id = \(vehicle) AND a.released_at IS NULL AND a.period && \(period)::tstzrange) AS free
            """).single().decode(Bool.self, "free")
    }

    struct NewHold: Sendable {
        let vehicle: UUID
        let owner: UUID
        let period: PostgresTimestampRange
        let status: HoldStatus
        let source: HoldSource
        let sourceID: UUID
    }

    /// Places a record; `VEHICLE_NOT_AVAILABLE` when the database refuses the overlap.
    static func insert(_ hold: NewHold, _ work: UnitOfWork) async throws -> FleetV1.AvailabilityRecord {
        try await FleetSQL.mapping {
            try await work.query("""
                INSERT INTO fleet.availability AS a (id, vehicle_id, organization_id, period, status, source_type, source_id)
                VALUES (\(UUID.random()), \(hold.vehicle), \(hold.owner), \(hold.period)::tstzrange, \(hold.status.rawValue),
                        \(hold.source.rawValue), \(hold.sourceID))
                RETURNING \(columns)
                """).single().availabilityRecord()
        }
    }

    /// Releases every open record of a source; returns them as released.
    static func release(_ source: HoldSource, _ sourceID: UUID, _ work: UnitOfWork) async throws -> [FleetV1.AvailabilityRecord] {
        try await work.query("""
            UPDATE fleet.availability AS a SET released_at = now(), version = a.version + 1
            WHERE a.source_type = \(source.rawValue) AND a.source_id = \(sourceID) AND a.released_at IS NULL
            RETURNING \(columns)
            """).map { try $0.availabilityRecord() }
    }

    static func lock(_ id: UUID, _ work: UnitOfWork) async throws -> FleetV1.AvailabilityRecord? {
        try await work.query("SELECT \(columns) FROM fleet.availability AS a WHERE a.id = \(id) FOR UPDATE")
            .first { _ in true }?.availabilityRecord()
    }

    static func setStatus(_ id: UUID, _ status: HoldStatus, _ work: UnitOfWork) async throws -> FleetV1.AvailabilityRecord {
        try await work.query("""
            UPDATE fleet.availability AS a SET status = \(status.rawValue), version = a.version + 1
            WHERE a.id = \(id) RETURNING \(columns)
            """).single().availabilityRecord()
    }

    /// Open records of a source (a booking's reservation, say).
    static func open(_ source: HoldSource, _ sourceID: UUID, _ work: UnitOfWork) async throws -> [FleetV1.AvailabilityRecord] {
        try await work.query("""
            SELECT \(columns) FROM fleet.availability AS a
            WHERE a.source_type = \(source.rawValue) AND a.source_id = \(sourceID) AND a.released_at IS NULL
            """).map { try $0.availabilityRecord() }
    }

    /// Sources of open records of `sources` overlapping `period` (whose parties a suspension notifies).
    static func overlappingSources(_ vehicle: UUID, _ period: PostgresTimestampRange, _ source: HoldSource, _ work: UnitOfWork) async throws -> [String] {
        try await work.query("""
            SELECT DISTINCT a.source_id FROM fleet.availability AS a
            WHERE a.vehicle_id = \(vehicle) AND a.released_at IS NULL AND a.source_type = \(source.rawValue)
              AND a.period && \(period)::tstzrange
            ORDER BY a.source_id
            """).map { try $0.decode(UUID.self, "source_id").postgresText }
    }

    /// A calendar page: records overlapping `window`, by start then id.
    static func timeline(
        _ vehicle: UUID, _ window: PostgresTimestampRange, includeReleased: Bool, after: (PostgresTimestamp, UUID)?, limit: Int,
        _ work: UnitOfWork
    ) async throws -> [FleetV1.AvailabilityRecord] {
        try await work.query("""
            SELECT \(columns) FROM fleet.availability AS a
            WHERE a.vehicle_id = \(vehicle) AND a.period && \(window)::tstzrange AND (\(includeReleased) OR a.released_at IS NULL)
              AND (\(after?.0)::timestamptz IS NULL OR (lower(a.period), a.id) > (\(after?.0)::timestamptz, \(after?.1)::uuid))
            ORDER BY lower(a.period), a.id LIMIT \(limit)
            """).map { try $0.availabilityRecord() }
    }
}

extension PostgresRow {
    func availabilityRecord() throws -> FleetV1.AvailabilityRecord {
        FleetV1.AvailabilityRecord(
            id: try decode(UUID.self, "id").postgresText, vehicleId: try decode(UUID.self, "vehicle_id").postgresText,
            organizationId: try decode(UUID.self, "organization_id").postgresText,
            period: try decode(PostgresTimestampRange.self, "period").openPeriod,
            status: FleetV1.AvailabilityStatus(storedName: try decode(String.self, "status")) ?? .unspecified,
            sourceType: FleetV1.AvailabilitySourceType(storedName: try decode(String.self, "source_type")) ?? .unspecified,
            sourceId: try decode(UUID.self, "source_id").postgresText,
            createdAt: try decode(PostgresTimestamp.self, "created_at").timestamp,
            releasedAt: try decode(PostgresTimestamp?.self, "released_at")?.timestamp,
            version: try decode(Int64.self, "version")
        )
    }
}
