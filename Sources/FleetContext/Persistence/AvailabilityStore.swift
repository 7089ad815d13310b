import Foundation
import KaroKarKernel
import KaroKarPostgres

/// SQL of the availability timeline, `fleet.availability`. Conflicts are decided by the
/// database (see ``FleetMigrations``); this code only asks it.
enum AvailabilityStore {
    static let columns = SQLFragment("""
        a.id, a.vehicle_id, a.organization_id, a.period, a.status, a.source_type, a.source_id, a.created_at, a.released_at, a.version
        """)

    /// No open record of any status holds the vehicle during `period` (extended by the owner's
    /// turnaround buffer when it is a booking's or an assignment's, `asBooking`).
    /// Two probes, so each uses an index: the no-overlap constraint's (every status but
    /// SUSPENDED) and the open suspensions' (migration 4).
    static func isFree(_ vehicle: UUID, _ period: Period, asBooking: Bool = false, _ work: UnitOfWork) async throws -> Bool {
        try await work.query("""
            WITH asked AS (
                SELECT fleet.with_turnaround(\(period)::tstzrange,
                                             CASE WHEN \(asBooking) THEN fleet.turnaround_minutes(\(vehicle)) ELSE 0 END) AS blocked
            )
            SELECT NOT EXISTS (
                SELECT 1 FROM fleet.availability AS a, asked
                WHERE a.vehicle_id = \(vehicle) AND a.released_at IS NULL AND a.status <> 'SUSPENDED' AND a.blocked && asked.blocked
            ) AND NOT EXISTS (
                SELECT 1 FROM fleet.availability AS a, asked
                WHERE a.vehicle_id = \(vehicle) AND a.released_at IS NULL AND a.status = 'SUSPENDED' AND a.blocked && asked.blocked
            ) AS free
            """).single().decode(Bool.self, "free")
    }

    /// The owner's turnaround buffer of a vehicle, in minutes.
    static func turnaroundMinutes(_ vehicle: UUID, _ work: UnitOfWork) async throws -> Int32 {
        try await work.query("SELECT fleet.turnaround_minutes(\(vehicle)) AS minutes").single().decode(Int32.self, "minutes")
    }

    /// Places a record on `vehicle` (of its owner); `VEHICLE_NOT_AVAILABLE` when the database refuses the overlap.
    static func insert(_ hold: Hold, on vehicle: Vehicle, _ work: UnitOfWork) async throws -> AvailabilityRecord {
        try await FleetSQL.mapping {
            try await work.query("""
                INSERT INTO fleet.availability AS a (id, vehicle_id, organization_id, period, status, source_type, source_id)
                VALUES (\(UUID.random()), \(vehicle.id), \(vehicle.organizationID), \(hold.period)::tstzrange, \(hold.status.rawValue),
                        \(hold.source.rawValue), \(hold.sourceID))
                RETURNING \(columns)
                """).single().availabilityRecord()
        }
    }

    /// Releases every open record of a source; returns them as released.
    /// Releases the open records of a source; of `owner`'s vehicles only, when given (a source id
    /// is the caller's to name, so another tenant may have used the same one).
    static func release(_ source: HoldSource, _ sourceID: UUID, owner: UUID? = nil, _ work: UnitOfWork) async throws -> [AvailabilityRecord] {
        try await work.query("""
            UPDATE fleet.availability AS a SET released_at = now(), version = a.version + 1
            WHERE a.source_type = \(source.rawValue) AND a.source_id = \(sourceID) AND a.released_at IS NULL
              AND (\(owner)::uuid IS NULL OR a.organization_id = \(owner)::uuid)
            RETURNING \(columns)
            """).map { try $0.availabilityRecord() }
    }

    static func lock(_ id: UUID, _ work: UnitOfWork) async throws -> AvailabilityRecord? {
        try await work.query("SELECT \(columns) FROM fleet.availability AS a WHERE a.id = \(id) FOR UPDATE")
            .first { _ in true }?.availabilityRecord()
    }

    static func setStatus(_ id: UUID, _ status: HoldStatus, _ work: UnitOfWork) async throws -> AvailabilityRecord {
        try await work.query("""
            UPDATE fleet.availability AS a SET status = \(status.rawValue), version = a.version + 1
            WHERE a.id = \(id) RETURNING \(columns)
            """).single().availabilityRecord()
    }

    /// Open records of a source (a booking's reservation, say).
    static func open(_ source: HoldSource, _ sourceID: UUID, owner: UUID? = nil, _ work: UnitOfWork) async throws -> [AvailabilityRecord] {
        try await work.query("""
            SELECT \(columns) FROM fleet.availability AS a
            WHERE a.source_type = \(source.rawValue) AND a.source_id = \(sourceID) AND a.released_at IS NULL
              AND (\(owner)::uuid IS NULL OR a.organization_id = \(owner)::uuid)
            """).map { try $0.availabilityRecord() }
    }

    /// Sources of open records of `source` overlapping `period` (whose parties a suspension notifies).
    static func overlappingSources(_ vehicle: UUID, _ period: Period, _ source: HoldSource, _ work: UnitOfWork) async throws -> [UUID] {
        try await work.query("""
            SELECT DISTINCT a.source_id FROM fleet.availability AS a
            WHERE a.vehicle_id = \(vehicle) AND a.released_at IS NULL AND a.source_type = \(source.rawValue)
              AND a.period && \(period)::tstzrange
            ORDER BY a.source_id
            """).map { try $0.decode(UUID.self, "source_id") }
    }

    /// A calendar page: records overlapping `window`, by start then id, after `after`.
    static func timeline(
        _ vehicle: UUID, _ window: Period, includeReleased: Bool, after: TimeKey?, limit: Int, _ work: UnitOfWork
    ) async throws -> [AvailabilityRecord] {
        try await work.query("""
            SELECT \(columns) FROM fleet.availability AS a
            WHERE a.vehicle_id = \(vehicle) AND a.period && \(window)::tstzrange AND (\(includeReleased) OR a.released_at IS NULL)
              AND (\(after?.time)::timestamptz IS NULL OR (lower(a.period), a.id) > (\(after?.time)::timestamptz, \(after?.id)::uuid))
            ORDER BY lower(a.period), a.id LIMIT \(limit)
            """).map { try $0.availabilityRecord() }
    }
}
