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

    /// Records the status at `version`, unless a later version is already recorded (redelivery).
    static func record(_ booking: UUID, status: String, version: Int64, on work: UnitOfWork) async throws {
        try await work.query("""
            INSERT INTO administration.bookings AS b (booking_id, status, version) VALUES (\(booking), \(status), \(version))
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
