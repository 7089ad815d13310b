import Foundation
import KaroKarKernel
import KaroKarPostgres

/// SQL of `fleet.vehicle` and `fleet.owner`.
enum VehicleStore {
    static let columns = SQLFragment("""
        v.id, v.organization_id, v.ownership_type, v.make, v.model, v.year, v.license_plate, v.status, v.version,
        v.created_at, v.updated_at
        """)

    /// A new `PENDING` vehicle of `owner`.
    static func insert(
        _ id: UUID, owner: UUID, ownership: Ownership, _ details: VehicleDetails, _ work: UnitOfWork
    ) async throws -> Vehicle {
        try await FleetSQL.mapping {
            try await work.query("""
                INSERT INTO fleet.vehicle AS v (id, organization_id, ownership_type, make, model, year, license_plate, status)
                VALUES (\(id), \(owner), \(ownership.rawValue), \(details.make), \(details.model),
                        \(details.year), \(details.plate), 'PENDING')
                RETURNING \(columns)
                """).single().vehicle()
        }
    }

    /// The vehicle, locked for the rest of the unit of work (every change to a vehicle's status
    /// or timeline goes through this lock, so concurrent verbs on one vehicle take turns).
    static func lock(_ id: UUID, _ work: UnitOfWork) async throws -> Vehicle? {
        try await work.query("SELECT \(columns) FROM fleet.vehicle AS v WHERE v.id = \(id) FOR UPDATE").first { _ in true }?.vehicle()
    }

    static func get(_ id: UUID, _ work: UnitOfWork) async throws -> Vehicle? {
        try await work.query("SELECT \(columns) FROM fleet.vehicle AS v WHERE v.id = \(id)").first { _ in true }?.vehicle()
    }

    /// Status change with a version bump; returns the new row.
    static func setStatus(_ id: UUID, _ status: VehicleState, _ work: UnitOfWork) async throws -> Vehicle {
        try await work.query("""
            UPDATE fleet.vehicle AS v SET status = \(status.rawValue), version = v.version + 1, updated_at = now()
            WHERE v.id = \(id) RETURNING \(columns)
            """).single().vehicle()
    }

    static func updateDetails(_ id: UUID, _ details: VehicleDetails, _ work: UnitOfWork) async throws -> Vehicle {
        try await FleetSQL.mapping {
            try await work.query("""
                UPDATE fleet.vehicle AS v SET make = \(details.make), model = \(details.model), year = \(details.year),
                    license_plate = \(details.plate), version = v.version + 1, updated_at = now()
                WHERE v.id = \(id) RETURNING \(columns)
                """).single().vehicle()
        }
    }

    /// One page of an organization's fleet, by id.
    static func list(owner: UUID, statuses: [VehicleState], after: UUID?, limit: Int, _ work: UnitOfWork) async throws -> [Vehicle] {
        let statuses = statuses.map(\.rawValue)
        return try await work.query("""
            SELECT \(columns) FROM fleet.vehicle AS v
            WHERE v.organization_id = \(owner) AND (cardinality(\(statuses)::text[]) = 0 OR v.status = ANY(\(statuses)::text[]))
              AND (\(after)::uuid IS NULL OR v.id > \(after)::uuid)
            ORDER BY v.id LIMIT \(limit)
            """).map { try $0.vehicle() }
    }

    // MARK: - Owners (Fleet's projection of organizations)

    static func owner(_ id: UUID, _ work: UnitOfWork) async throws -> Owner? {
        guard let row = try await work.query("SELECT kind, status FROM fleet.owner WHERE organization_id = \(id)").first(where: { _ in true }) else {
            return nil
        }
        return Owner(kind: try row.enumeration(TenantKind.self, "kind"), status: try row.enumeration(TenantStatus.self, "status"))
    }

    /// Sets an owner's turnaround buffer; false when Fleet does not know the organization.
    static func setTurnaround(_ id: UUID, minutes: Int32, _ work: UnitOfWork) async throws -> Bool {
        try await work.query("""
            UPDATE fleet.owner SET turnaround_minutes = \(minutes), updated_at = now() WHERE organization_id = \(id)
            """).affectedRows == 1
    }

    /// Records what an organization event says about its owner (idempotent, order-insensitive
    /// for the final status since every event carries the new status).
    static func upsertOwner(_ id: UUID, kind: TenantKind, status: TenantStatus, _ work: UnitOfWork) async throws {
        try await work.query("""
            INSERT INTO fleet.owner (organization_id, kind, status) VALUES (\(id), \(kind.rawValue), \(status.rawValue))
            ON CONFLICT (organization_id) DO UPDATE SET status = EXCLUDED.status, updated_at = now()
            """)
    }
}

/// Database failures Fleet expects, as domain errors (STYLE habit 4); anything else propagates.
enum FleetSQL {
    static func mapping<R>(_ body: () async throws -> R) async throws -> R {
        do {
            return try await body()
        } catch let error as PostgresError {
            switch (error.code, error.constraint) {
            case (.uniqueViolation, "vehicle_plate_unique"): throw FleetError.duplicatePlate()
            case (.exclusionViolation, _): throw FleetError.vehicleNotAvailable()
            case (.foreignKeyViolation, "vehicle_organization_id_owner_kind_fkey"): throw FleetError.ownershipMismatch()
            case (.uniqueViolation, "suspension_open_reason"):
                throw DomainError.alreadyExists("SUSPENSION_ALREADY_OPEN", "the vehicle already has an open suspension for this reason")
            default: throw error
            }
        }
    }
}
