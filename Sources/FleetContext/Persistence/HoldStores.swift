import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres

/// SQL of the aggregates that own availability records: maintenance, suspensions and blocks.
enum MaintenanceStore {
    static let columns = SQLFragment("""
        m.id, m.vehicle_id, m.organization_id, m.period, m.reason, m.status, m.availability_id, m.booking_id, m.created_by,
        m.started_at, m.completed_at, m.cancelled_at, m.cancellation_reason, m.version, m.created_at, m.updated_at
        """)

    static func insert(
        id: UUID, vehicle: FleetV1.Vehicle, period: PostgresTimestampRange, reason: String, hold: UUID, booking: UUID?, by actor: String,
        _ work: UnitOfWork
    ) async throws -> FleetV1.MaintenanceRecord {
        try await work.query("""
            INSERT INTO fleet.maintenance AS m (id, vehicle_id, organization_id, period, reason, status, availability_id, booking_id, created_by)
            VALUES (\(id), \(vehicle.id)::uuid, \(vehicle.organizationId)::uuid, \(period)::tstzrange, \(reason), 'SCHEDULED', \(hold),
                    \(booking), \(actor))
            RETURNING \(columns)
            """).single().maintenance()
    }

    static func lock(_ id: UUID, _ work: UnitOfWork) async throws -> FleetV1.MaintenanceRecord? {
        try await work.query("SELECT \(columns) FROM fleet.maintenance AS m WHERE m.id = \(id) FOR UPDATE").first { _ in true }?.maintenance()
    }

    static func get(_ id: UUID, _ work: UnitOfWork) async throws -> FleetV1.MaintenanceRecord? {
        try await work.query("SELECT \(columns) FROM fleet.maintenance AS m WHERE m.id = \(id)").first { _ in true }?.maintenance()
    }

    /// Moves to `state`, stamping the matching instant.
    static func move(_ id: UUID, to state: MaintenanceState, cancellationReason: String?, _ work: UnitOfWork) async throws -> FleetV1.MaintenanceRecord {
        try await work.query("""
            UPDATE fleet.maintenance AS m SET status = \(state.rawValue), version = m.version + 1, updated_at = now(),
                started_at = CASE WHEN \(state.rawValue) = 'IN_PROGRESS' THEN now() ELSE m.started_at END,
                completed_at = CASE WHEN \(state.rawValue) = 'COMPLETED' THEN now() ELSE m.completed_at END,
                cancelled_at = CASE WHEN \(state.rawValue) = 'CANCELLED' THEN now() ELSE m.cancelled_at END,
                cancellation_reason = coalesce(\(cancellationReason), m.cancellation_reason)
            WHERE m.id = \(id) RETURNING \(columns)
            """).single().maintenance()
    }

    static func list(
        scope: ListScope, statuses: [String], overlapping: PostgresTimestampRange?, after: (PostgresTimestamp, UUID)?, limit: Int,
        _ work: UnitOfWork
    ) async throws -> [FleetV1.MaintenanceRecord] {
        try await work.query("""
            SELECT \(columns) FROM fleet.maintenance AS m
            WHERE (\(scope.vehicle)::uuid IS NULL OR m.vehicle_id = \(scope.vehicle)::uuid)
              AND (\(scope.owner)::uuid IS NULL OR m.organization_id = \(scope.owner)::uuid)
              AND (cardinality(\(statuses)::text[]) = 0 OR m.status = ANY(\(statuses)::text[]))
              AND (\(overlapping)::tstzrange IS NULL OR m.period && \(overlapping)::tstzrange)
              AND (\(after?.0)::timestamptz IS NULL OR (m.created_at, m.id) > (\(after?.0)::timestamptz, \(after?.1)::uuid))
            ORDER BY m.created_at, m.id LIMIT \(limit)
            """).map { try $0.maintenance() }
    }
}

/// A list's reach: one vehicle, one owner, or (both nil) everything.
struct ListScope: Sendable {
    var vehicle: UUID?
    var owner: UUID?
}

enum SuspensionStore {
    static let columns = SQLFragment("""
        s.id, s.vehicle_id, s.organization_id, s.reason, s.period, s.notes, s.availability_id, s.document_id, s.created_by,
        s.created_at, s.lifted_at, s.lifted_by, s.version
        """)

    struct NewSuspension: Sendable {
        let id: UUID
        let vehicle: FleetV1.Vehicle
        let reason: FleetV1.SuspensionReason
        let period: PostgresTimestampRange
        let notes: String?
        let hold: UUID
        let document: UUID?
        let actor: String
    }

    static func insert(_ new: NewSuspension, _ work: UnitOfWork) async throws -> FleetV1.VehicleSuspension {
        do {
            return try await work.query("""
                INSERT INTO fleet.suspension AS s (id, vehicle_id, organization_id, reason, period, notes, availability_id, document_id, created_by)
                VALUES (\(new.id), \(new.vehicle.id)::uuid, \(new.vehicle.organizationId)::uuid, \(new.reason.storedName ?? ""),
                        \(new.period)::tstzrange, \(new.notes), \(new.hold), \(new.document), \(new.actor))
                RETURNING \(columns)
                """).single().suspension()
        } catch let error as PostgresError where error.code == .uniqueViolation && error.constraint == "suspension_open_reason" {
            throw DomainError.alreadyExists("SUSPENSION_ALREADY_OPEN", "the vehicle already has an open suspension for this reason")
        }
    }

    static func lock(_ id: UUID, _ work: UnitOfWork) async throws -> FleetV1.VehicleSuspension? {
        try await work.query("SELECT \(columns) FROM fleet.suspension AS s WHERE s.id = \(id) FOR UPDATE").first { _ in true }?.suspension()
    }

    static func lift(_ id: UUID, notes: String?, by actor: String, _ work: UnitOfWork) async throws -> FleetV1.VehicleSuspension {
        try await work.query("""
            UPDATE fleet.suspension AS s SET lifted_at = now(), lifted_by = \(actor), version = s.version + 1,
                notes = coalesce(\(notes), s.notes)
            WHERE s.id = \(id) RETURNING \(columns)
            """).single().suspension()
    }

    static func openOnes(vehicle: UUID, _ work: UnitOfWork) async throws -> [FleetV1.VehicleSuspension] {
        try await work.query("SELECT \(columns) FROM fleet.suspension AS s WHERE s.vehicle_id = \(vehicle) AND s.lifted_at IS NULL ORDER BY s.created_at, s.id")
            .map { try $0.suspension() }
    }

    static func list(vehicle: UUID, includeLifted: Bool, after: (PostgresTimestamp, UUID)?, limit: Int, _ work: UnitOfWork) async throws -> [FleetV1.VehicleSuspension] {
        try await work.query("""
            SELECT \(columns) FROM fleet.suspension AS s
            WHERE s.vehicle_id = \(vehicle) AND (\(includeLifted) OR s.lifted_at IS NULL)
              AND (\(after?.0)::timestamptz IS NULL OR (s.created_at, s.id) > (\(after?.0)::timestamptz, \(after?.1)::uuid))
            ORDER BY s.created_at, s.id LIMIT \(limit)
            """).map { try $0.suspension() }
    }
}

enum BlockStore {
    static let columns = SQLFragment("""
        b.id, b.vehicle_id, b.organization_id, b.period, b.reason, b.availability_id, b.created_by, b.created_at, b.removed_at,
        b.removed_by, b.version
        """)

    static func insert(id: UUID, vehicle: FleetV1.Vehicle, period: PostgresTimestampRange, reason: String, hold: UUID, by actor: String, _ work: UnitOfWork) async throws -> FleetV1.VehicleBlock {
        try await work.query("""
            INSERT INTO fleet.block AS b (id, vehicle_id, organization_id, period, reason, availability_id, created_by)
            VALUES (\(id), \(vehicle.id)::uuid, \(vehicle.organizationId)::uuid, \(period)::tstzrange, \(reason), \(hold), \(actor))
            RETURNING \(columns)
            """).single().block()
    }

    static func lock(_ id: UUID, _ work: UnitOfWork) async throws -> FleetV1.VehicleBlock? {
        try await work.query("SELECT \(columns) FROM fleet.block AS b WHERE b.id = \(id) FOR UPDATE").first { _ in true }?.block()
    }

    static func remove(_ id: UUID, by actor: String, _ work: UnitOfWork) async throws -> FleetV1.VehicleBlock {
        try await work.query("""
            UPDATE fleet.block AS b SET removed_at = now(), removed_by = \(actor), version = b.version + 1
            WHERE b.id = \(id) RETURNING \(columns)
            """).single().block()
    }

    static func list(vehicle: UUID, includeRemoved: Bool, after: (PostgresTimestamp, UUID)?, limit: Int, _ work: UnitOfWork) async throws -> [FleetV1.VehicleBlock] {
        try await work.query("""
            SELECT \(columns) FROM fleet.block AS b
            WHERE b.vehicle_id = \(vehicle) AND (\(includeRemoved) OR b.removed_at IS NULL)
              AND (\(after?.0)::timestamptz IS NULL OR (b.created_at, b.id) > (\(after?.0)::timestamptz, \(after?.1)::uuid))
            ORDER BY b.created_at, b.id LIMIT \(limit)
            """).map { try $0.block() }
    }
}
