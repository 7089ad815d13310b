import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres

/// SQL of `fleet.vehicle` and `fleet.owner`.
enum VehicleStore {
    static let columns = SQLFragment("""
        v.id, v.organization_id, v.ownership_type, v.make, v.model, v.year, v.license_plate, v.status, v.version,
        v.created_at, v.updated_at
        """)

    struct NewVehicle: Sendable {
        let id: UUID
        let owner: UUID
        let ownership: Ownership
        let make: String
        let model: String
        let year: Int32
        let plate: String
    }

    static func insert(_ vehicle: NewVehicle, _ work: UnitOfWork) async throws -> FleetV1.Vehicle {
        try await FleetSQL.mapping {
            try await work.query("""
                INSERT INTO fleet.vehicle AS v (id, organization_id, ownership_type, make, model, year, license_plate, status)
                VALUES (\(vehicle.id), \(vehicle.owner), \(vehicle.ownership.rawValue), \(vehicle.make), \(vehicle.model),
                        \(vehicle.year), \(vehicle.plate), 'PENDING')
                RETURNING \(columns)
                """).single().vehicle()
        }
    }

    /// The vehicle, locked for the rest of the unit of work (every change to a vehicle's status
    /// or timeline goes through this lock, so concurrent verbs on one vehicle take turns).
    static func lock(_ id: UUID, _ work: UnitOfWork) async throws -> FleetV1.Vehicle? {
        try await work.query("SELECT \(columns) FROM fleet.vehicle AS v WHERE v.id = \(id) FOR UPDATE").first { _ in true }?.vehicle()
    }

    static func get(_ id: UUID, _ work: UnitOfWork) async throws -> FleetV1.Vehicle? {
        try await work.query("SELECT \(columns) FROM fleet.vehicle AS v WHERE v.id = \(id)").first { _ in true }?.vehicle()
    }

    /// Status change with a version bump; returns the new row.
    static func setStatus(_ id: UUID, _ status: VehicleState, _ work: UnitOfWork) async throws -> FleetV1.Vehicle {
        try await work.query("""
            UPDATE fleet.vehicle AS v SET status = \(status.rawValue), version = v.version + 1, updated_at = now()
            WHERE v.id = \(id) RETURNING \(columns)
            """).single().vehicle()
    }

    static func updateDetails(_ id: UUID, make: String, model: String, year: Int32, plate: String, _ work: UnitOfWork) async throws -> FleetV1.Vehicle {
        try await FleetSQL.mapping {
            try await work.query("""
                UPDATE fleet.vehicle AS v SET make = \(make), model = \(model), year = \(year), license_plate = \(plate),
                    version = v.version + 1, updated_at = now()
                WHERE v.id = \(id) RETURNING \(columns)
                """).single().vehicle()
        }
    }

    /// One page of an organization's fleet, by id.
    static func list(owner: UUID, statuses: [String], after: UUID?, limit: Int, _ work: UnitOfWork) async throws -> [FleetV1.Vehicle] {
        try await work.query("""
            SELECT \(columns) FROM fleet.vehicle AS v
            WHERE v.organization_id = \(owner) AND (cardinality(\(statuses)::text[]) = 0 OR v.status = ANY(\(statuses)::text[]))
              AND (\(after)::uuid IS NULL OR v.id > \(after)::uuid)
            ORDER BY v.id LIMIT \(limit)
            """).map { try $0.vehicle() }
    }

    // MARK: - Owners (Fleet's projection of organizations)

    struct Owner: Sendable {
        let kind: TenantKind
        let status: String
        var isActive: Bool { status == "ACTIVE" }
    }

    static func owner(_ id: UUID, _ work: UnitOfWork) async throws -> Owner? {
        guard let row = try await work.query("SELECT kind, status FROM fleet.owner WHERE organization_id = \(id)").first(where: { _ in true }) else {
            return nil
        }
        return Owner(kind: TenantKind(rawValue: try row.decode(String.self, "kind")) ?? .platform, status: try row.decode(String.self, "status"))
    }

    /// Records what an organization event says about its owner (idempotent, order-insensitive
    /// for the final status since every event carries the new status).
    static func upsertOwner(_ id: UUID, kind: TenantKind, status: String, _ work: UnitOfWork) async throws {
        try await work.query("""
            INSERT INTO fleet.owner (organization_id, kind, status) VALUES (\(id), \(kind.rawValue), \(status))
            ON CONFLICT (organization_id) DO UPDATE SET status = EXCLUDED.status, updated_at = now()
            """)
    }
}

extension PostgresRow {
    func vehicle() throws -> FleetV1.Vehicle {
        FleetV1.Vehicle(
            id: try decode(UUID.self, "id").postgresText, organizationId: try decode(UUID.self, "organization_id").postgresText,
            ownershipType: FleetV1.OwnershipType(storedName: try decode(String.self, "ownership_type")) ?? .unspecified,
            make: try decode(String.self, "make"), model: try decode(String.self, "model"), year: try decode(Int32.self, "year"),
            licensePlate: try decode(String.self, "license_plate"),
            status: FleetV1.VehicleStatus(storedName: try decode(String.self, "status")) ?? .unspecified,
            version: try decode(Int64.self, "version"), createdAt: try decode(PostgresTimestamp.self, "created_at").timestamp,
            updatedAt: try decode(PostgresTimestamp.self, "updated_at").timestamp
        )
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
            default: throw error
            }
        }
    }
}
