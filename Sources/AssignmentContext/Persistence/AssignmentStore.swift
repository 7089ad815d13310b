import Foundation
import KaroKarKernel
import KaroKarPostgres

/// SQL of `assignment.assignments`.
enum AssignmentStore {
    static func insert(_ a: AssignmentRecord, _ work: UnitOfWork) async throws -> AssignmentRecord {
        do {
            return try await work.query("""
                INSERT INTO assignment.assignments (id, booking_id, vehicle_id, corporate_organization_id, employee_id, period, status,
                    created_by, responded_at, replaces_assignment_id, created_at, updated_at)
                VALUES (\(a.id), \(a.bookingID)::uuid, \(a.vehicleID), \(a.corporateID), \(a.employeeID), \(a.period)::tstzrange,
                    \(a.status.rawValue), \(a.createdBy), \(a.respondedAt)::timestamptz, \(a.replaces)::uuid,
                    \(a.createdAt)::timestamptz, \(a.updatedAt)::timestamptz)
                RETURNING *
                """).single().assignment()
        } catch let error as PostgresError where error.code == .uniqueViolation && error.constraint == "assignments_one_live_per_booking" {
            throw DomainError.failedPrecondition("BOOKING_ALREADY_ASSIGNED", "the booking already has a live assignment")
        }
    }

    static func get(_ id: UUID, _ database: some Queryable) async throws -> AssignmentRecord? {
        try await database.query("SELECT * FROM assignment.assignments WHERE id = \(id)").first { _ in true }?.assignment()
    }

    static func lock(_ id: UUID, _ work: UnitOfWork) async throws -> AssignmentRecord? {
        try await work.query("SELECT * FROM assignment.assignments WHERE id = \(id) FOR UPDATE").first { _ in true }?.assignment()
    }

    /// The booking's live assignment (PENDING, ACCEPTED or ACTIVE), locked; nil when there is none.
    static func lockLive(ofBooking booking: UUID, _ work: UnitOfWork) async throws -> AssignmentRecord? {
        try await work.query("""
            SELECT * FROM assignment.assignments
            WHERE booking_id = \(booking) AND status IN ('PENDING', 'ACCEPTED', 'ACTIVE') FOR UPDATE
            """).first { _ in true }?.assignment()
    }

    /// The booking is over: none of its assignments may be reassigned any more. Its live one
    /// was saved with ``AssignmentRecord/bookingEnded`` set (one row version, not two); this
    /// marks the earlier ones (rejected, closed: usually none), queued to go out with the
    /// transaction's next statement or its COMMIT rather than costing a round trip of its own.
    static func markBookingEnded(_ booking: UUID, _ work: UnitOfWork) {
        work.session.enqueue("UPDATE assignment.assignments SET booking_ended = true WHERE booking_id = \(booking) AND NOT booking_ended")
    }

    static func save(_ a: AssignmentRecord, _ work: UnitOfWork) async throws -> AssignmentRecord {
        try await work.query("""
            UPDATE assignment.assignments SET status = \(a.status.rawValue), responded_at = \(a.respondedAt)::timestamptz,
                rejection_reason = \(a.rejectionReason), activated_at = \(a.activatedAt)::timestamptz,
                completed_at = \(a.completedAt)::timestamptz, closed_at = \(a.closedAt)::timestamptz, closed_by = \(a.closedBy)::uuid,
                close_reason = \(a.closeReason?.rawValue), close_notes = \(a.closeNotes),
                replaced_by_assignment_id = \(a.replacedBy)::uuid, booking_ended = \(a.bookingEnded), version = version + 1, updated_at = \(a.updatedAt)::timestamptz
            WHERE id = \(a.id)
            RETURNING *
            """).single().assignment()
    }

    /// A page, newest first: a corporate's (narrowed by `filter`) or one employee's.
    static func list(
        corporate: UUID, _ filter: AssignmentFilter, after: TimeKey?, limit: Int, _ database: some Queryable
    ) async throws -> [AssignmentRecord] {
        let statuses = filter.statuses.map(\.rawValue)
        return try await database.query("""
            SELECT * FROM assignment.assignments
            WHERE corporate_organization_id = \(corporate)
              AND (\(filter.employee)::uuid IS NULL OR employee_id = \(filter.employee)::uuid)
              AND (\(filter.vehicle)::uuid IS NULL OR vehicle_id = \(filter.vehicle)::uuid)
              AND (\(filter.booking)::uuid IS NULL OR booking_id = \(filter.booking)::uuid)
              AND (cardinality(\(statuses)::text[]) = 0 OR status = ANY(\(statuses)::text[]))
              AND (\(filter.overlapping)::tstzrange IS NULL OR period && \(filter.overlapping)::tstzrange)
              AND (\(after?.time)::timestamptz IS NULL OR (created_at, id) < (\(after?.time)::timestamptz, \(after?.id)::uuid))
            ORDER BY created_at DESC, id DESC
            LIMIT \(limit)
            """).map { try $0.assignment() }
    }
}

extension PostgresRow {
    func assignment() throws -> AssignmentRecord {
        AssignmentRecord(
            id: try decode(UUID.self, "id"), bookingID: try decode(UUID?.self, "booking_id"), vehicleID: try decode(UUID.self, "vehicle_id"),
            corporateID: try decode(UUID.self, "corporate_organization_id"), employeeID: try decode(UUID.self, "employee_id"),
            period: try decode(Period.self, "period"), status: try enumeration(AssignmentStatus.self, "status"),
            createdBy: try decode(String.self, "created_by"), respondedAt: try decode(Instant?.self, "responded_at"),
            rejectionReason: try decode(String?.self, "rejection_reason"), activatedAt: try decode(Instant?.self, "activated_at"),
            completedAt: try decode(Instant?.self, "completed_at"), closedAt: try decode(Instant?.self, "closed_at"),
            closedBy: try decode(UUID?.self, "closed_by"), closeReason: try enumeration(CloseReason?.self, "close_reason"),
            closeNotes: try decode(String?.self, "close_notes"), replaces: try decode(UUID?.self, "replaces_assignment_id"),
            replacedBy: try decode(UUID?.self, "replaced_by_assignment_id"), bookingEnded: try decode(Bool.self, "booking_ended"), version: try decode(Int64.self, "version"),
            createdAt: try decode(Instant.self, "created_at"), updatedAt: try decode(Instant.self, "updated_at")
        )
    }
}
