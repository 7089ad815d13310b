import Foundation
import KaroKarKernel
import KaroKarPostgres

/// `administration.vehicles`: each vehicle's latest lifecycle status, as Fleet's events tell it.
enum VehicleCountStore {
    /// Records the status at `version`, unless a later version is already recorded (redelivery,
    /// or an older event delivered late).
    static func record(_ vehicle: UUID, status: String, version: Int64, on work: UnitOfWork) async throws {
        try await work.query("""
            INSERT INTO administration.vehicles AS v (vehicle_id, status, version) VALUES (\(vehicle), \(status), \(version))
            ON CONFLICT (vehicle_id) DO UPDATE SET status = EXCLUDED.status, version = EXCLUDED.version
            WHERE v.version < EXCLUDED.version
            """)
    }

    static func counts(on database: some Queryable) async throws -> [StatusCount] {
        try await database.query("""
            SELECT status, count(*) AS n FROM administration.vehicles GROUP BY status ORDER BY status
            """).map { StatusCount(status: try $0.decode(String.self, "status"), count: try $0.decode(Int64.self, "n")) }
    }
}
