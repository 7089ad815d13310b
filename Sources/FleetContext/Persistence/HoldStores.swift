import Foundation
import KaroKarKernel
import KaroKarPostgres

// SQL of the aggregates that own availability records: maintenance, suspensions and blocks.

/// What every such row is made with: its id (its record's source id), the vehicle (and so its
/// owner), the period, the record that holds the vehicle for it, and who acts.
struct HoldRow: Sendable {
    let id: UUID
    let vehicle: Vehicle
    let period: Period
    let hold: UUID
    let actor: String
}

/// `fleet.maintenance`.
enum MaintenanceStore {
    static let columns = SQLFragment("""
        m.id, m.vehicle_id, m.organization_id, m.period, m.reason, m.status, m.availability_id, m.booking_id, m.created_by,
        m.started_at, m.completed_at, m.cancelled_at, m.cancellation_reason, m.version, m.created_at, m.updated_at
        """)

    static func insert(_ row: HoldRow, reason: String, booking: UUID?, _ work: UnitOfWork) async throws -> MaintenanceRecord {
        try await work.query("""
            INSERT INTO fleet.maintenance AS m (id, vehicle_id, organization_id, period, reason, status, availability_id, booking_id, created_by)
            VALUES (\(row.id), \(row.vehicle.id), \(row.vehicle.organizationID), \(row.period)::tstzrange, \(reason), 'SCHEDULED',
                    \(row.hold), \(booking), \(row.actor))
            RETURNING \(columns)
            """).single().maintenance()
    }

    static func lock(_ id: UUID, _ work: UnitOfWork) async throws -> MaintenanceRecord? {
        try await work.query("SELECT \(columns) FROM fleet.maintenance AS m WHERE m.id = \(id) FOR UPDATE").first { _ in true }?.maintenance()
    }

    static func get(_ id: UUID, _ work: UnitOfWork) async throws -> MaintenanceRecord? {
        try await work.query("SELECT \(columns) FROM fleet.maintenance AS m WHERE m.id = \(id)").first { _ in true }?.maintenance()
    }

    /// Moves to `state`, stamping the matching instant.
    static func move(_ id: UUID, to state: MaintenanceState, cancellationReason: String?, _ work: UnitOfWork) async throws -> MaintenanceRecord {
        try await work.query("""
            UPDATE fleet.maintenance AS m SET status = \(state.rawValue), version = m.version + 1, updated_at = now(),
                started_at = CASE WHEN \(state.rawValue) = 'IN_PROGRESS' THEN now() ELSE m.started_at END,
                completed_at = CASE WHEN \(state.rawValue) = 'COMPLETED' THEN now() ELSE m.completed_at END,
                cancelled_at = CASE WHEN \(state.rawValue) = 'CANCELLED' THEN now() ELSE m.cancelled_at END,
                cancellation_reason = coalesce(\(cancellationReason), m.cancellation_reason)
            WHERE m.id = \(id) RETURNING \(columns)
            """).single().maintenance()
    }

    /// A page of `filter`'s records of `owner` (nil: every owner), by creation.
    static func list(
        _ filter: MaintenanceFilter, owner: UUID?, after: TimeKey?, limit: Int, _ work: UnitOfWork
    ) async throws -> [MaintenanceRecord] {
        let statuses = filter.statuses.map(\.rawValue)
        return try await work.query("""
            SELECT \(columns) FROM fleet.maintenance AS m
            WHERE (\(filter.vehicle)::uuid IS NULL OR m.vehicle_id = \(filter.vehicle)::uuid)
              AND (\(owner)::uuid IS NULL OR m.organization_id = \(owner)::uuid)
              AND (cardinality(\(statuses)::text[]) = 0 OR m.status = ANY(\(statuses)::text[]))
              AND (\(filter.overlapping)::tstzrange IS NULL OR m.period && \(filter.overlapping)::tstzrange)
              AND (\(after?.time)::timestamptz IS NULL OR (m.created_at, m.id) > (\(after?.time)::timestamptz, \(after?.id)::uuid))
            ORDER BY m.created_at, m.id LIMIT \(limit)
            """).map { try $0.maintenance() }
    }
}

/// `fleet.suspension`.
enum SuspensionStore {
    static let columns = SQLFragment("""
        s.id, s.vehicle_id, s.organization_id, s.reason, s.period, s.notes, s.availability_id, s.document_id, s.created_by,
        s.created_at, s.lifted_at, s.lifted_by, s.version
        """)

    /// `SUSPENSION_ALREADY_OPEN` when the vehicle has one open for the same reason.
    static func insert(_ row: HoldRow, _ opening: SuspensionOpening, _ work: UnitOfWork) async throws -> Suspension {
        try await FleetSQL.mapping {
            try await work.query("""
                INSERT INTO fleet.suspension AS s (id, vehicle_id, organization_id, reason, period, notes, availability_id, document_id, created_by)
                VALUES (\(row.id), \(row.vehicle.id), \(row.vehicle.organizationID), \(opening.reason.rawValue),
                        \(row.period)::tstzrange, \(opening.notes), \(row.hold), \(opening.document), \(row.actor))
                RETURNING \(columns)
                """).single().suspension()
        }
    }

    static func lock(_ id: UUID, _ work: UnitOfWork) async throws -> Suspension? {
        try await work.query("SELECT \(columns) FROM fleet.suspension AS s WHERE s.id = \(id) FOR UPDATE").first { _ in true }?.suspension()
    }

    static func lift(_ id: UUID, notes: String?, by actor: String, _ work: UnitOfWork) async throws -> Suspension {
        try await work.query("""
            UPDATE fleet.suspension AS s SET lifted_at = now(), lifted_by = \(actor), version = s.version + 1,
                notes = coalesce(\(notes), s.notes)
            WHERE s.id = \(id) RETURNING \(columns)
            """).single().suspension()
    }

    static func openOnes(vehicle: UUID, _ work: UnitOfWork) async throws -> [Suspension] {
        try await work.query("SELECT \(columns) FROM fleet.suspension AS s WHERE s.vehicle_id = \(vehicle) AND s.lifted_at IS NULL ORDER BY s.created_at, s.id")
            .map { try $0.suspension() }
    }

    static func list(vehicle: UUID, includeLifted: Bool, after: TimeKey?, limit: Int, _ work: UnitOfWork) async throws -> [Suspension] {
        try await work.query("""
            SELECT \(columns) FROM fleet.suspension AS s
            WHERE s.vehicle_id = \(vehicle) AND (\(includeLifted) OR s.lifted_at IS NULL)
              AND (\(after?.time)::timestamptz IS NULL OR (s.created_at, s.id) > (\(after?.time)::timestamptz, \(after?.id)::uuid))
            ORDER BY s.created_at, s.id LIMIT \(limit)
            """).map { try $0.suspension() }
    }
}

/// `fleet.block`.
enum BlockStore {
    static let columns = SQLFragment("""
        b.id, b.vehicle_id, b.organization_id, b.period, b.reason, b.availability_id, b.created_by, b.created_at, b.removed_at,
        b.removed_by, b.version, b.placed_by_platform
        """)

    static func insert(_ row: HoldRow, reason: String, byPlatform: Bool, _ work: UnitOfWork) async throws -> Block {
        try await work.query("""
            INSERT INTO fleet.block AS b (id, vehicle_id, organization_id, period, reason, availability_id, created_by, placed_by_platform)
            VALUES (\(row.id), \(row.vehicle.id), \(row.vehicle.organizationID), \(row.period)::tstzrange, \(reason), \(row.hold), \(row.actor),
                    \(byPlatform))
            RETURNING \(columns)
            """).single().block()
    }

    static func lock(_ id: UUID, _ work: UnitOfWork) async throws -> Block? {
        try await work.query("SELECT \(columns) FROM fleet.block AS b WHERE b.id = \(id) FOR UPDATE").first { _ in true }?.block()
    }

    static func remove(_ id: UUID, by actor: String, _ work: UnitOfWork) async throws -> Block {
        try await work.query("""
            UPDATE fleet.block AS b SET removed_at = now(), removed_by = \(actor), version = b.version + 1
            WHERE b.id = \(id) RETURNING \(columns)
            """).single().block()
    }

    static func list(vehicle: UUID, includeRemoved: Bool, after: TimeKey?, limit: Int, _ work: UnitOfWork) async throws -> [Block] {
        try await work.query("""
            SELECT \(columns) FROM fleet.block AS b
            WHERE b.vehicle_id = \(vehicle) AND (\(includeRemoved) OR b.removed_at IS NULL)
              AND (\(after?.time)::timestamptz IS NULL OR (b.created_at, b.id) > (\(after?.time)::timestamptz, \(after?.id)::uuid))
            ORDER BY b.created_at, b.id LIMIT \(limit)
            """).map { try $0.block() }
    }
}
