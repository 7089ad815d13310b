import Foundation
import KaroKarKernel
import KaroKarPostgres

/// `administration.bookings`: each booking's latest status, as Booking's events tell it.
enum BookingCountStore {
    /// The status a `booking.*` event leaves its booking in; nil for other events.
    static func status(after eventType: String) -> String? {
        [
            "booking.created": "DRAFT", "booking.requested": "REQUESTED", "booking.approved": "APPROVED", "booking.rejected": "REJECTED",
            "booking.assigned": "ASSIGNED", "booking.activated": "ACTIVE", "booking.completed": "COMPLETED",
            "booking.terminated": "TERMINATED", "booking.cancelled": "CANCELLED",
        ][eventType]
    }

    /// Records each booking's status at its version, unless a later version is already recorded
    /// (an event read again), in one statement.
    static func record(_ latest: LatestStatuses, on work: UnitOfWork) async throws {
        guard !latest.isEmpty else { return }
        let (ids, statuses, versions) = latest.columns
        try await work.query("""
            INSERT INTO administration.bookings AS b (booking_id, status, version)
            SELECT * FROM unnest(\(ids)::uuid[], \(statuses)::text[], \(versions)::int8[])
            ON CONFLICT (booking_id) DO UPDATE SET status = EXCLUDED.status, version = EXCLUDED.version
            WHERE b.version < EXCLUDED.version
            """)
    }

    static func counts(on database: some Queryable) async throws -> [BookingCount] {
        try await database.query("""
            SELECT status, count(*) AS n FROM administration.bookings GROUP BY status ORDER BY status
            """).map { BookingCount(status: try $0.decode(String.self, "status"), count: try $0.decode(Int64.self, "n")) }
    }
}
