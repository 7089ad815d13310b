import Foundation
import KaroKarKernel
import KaroKarPostgres

/// `administration.vehicles`: each vehicle's latest lifecycle status, as Fleet's events tell it.
enum VehicleCountStore {
    /// Records each vehicle's status at its version, unless a later version is already recorded
    /// (an event read again, or an older one replayed late), in one statement.
    static func record(_ latest: LatestStatuses, on work: UnitOfWork) async throws {
        guard !latest.isEmpty else { return }
        let (ids, statuses, versions) = latest.columns
        try await work.query("""
            INSERT INTO administration.vehicles AS v (vehicle_id, status, version)
            SELECT * FROM unnest(\(ids)::uuid[], \(statuses)::text[], \(versions)::int8[])
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
