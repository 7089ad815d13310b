import Foundation
import KaroKarKernel
import KaroKarPostgres

/// SQL of `booking.bookings`. A transition is read, locked (`FOR UPDATE`), changed as a record
/// by the use case, and saved whole with a version bump.
enum BookingStore {
    static func insert(_ booking: BookingRecord, _ work: UnitOfWork) async throws -> BookingRecord {
        try await work.query("""
            INSERT INTO booking.bookings (id, vehicle_id, vendor_organization_id, corporate_organization_id, requested_by, period,
                status, notes, self_booking, created_at, updated_at)
            VALUES (\(booking.id), \(booking.vehicleID), \(booking.vendorID), \(booking.corporateID), \(booking.requestedBy),
                \(booking.period)::tstzrange, \(booking.status.rawValue), \(booking.notes), \(booking.selfBooking),
                \(booking.createdAt)::timestamptz, \(booking.updatedAt)::timestamptz)
            RETURNING *
            """).single().booking()
    }

    static func get(_ id: UUID, _ database: some Queryable) async throws -> BookingRecord? {
        try await database.query("SELECT * FROM booking.bookings WHERE id = \(id)").first { _ in true }?.booking()
    }

    /// The booking, locked for the rest of the unit of work: transitions of one booking take turns.
    static func lock(_ id: UUID, _ work: UnitOfWork) async throws -> BookingRecord? {
        try await work.query("SELECT * FROM booking.bookings WHERE id = \(id) FOR UPDATE").first { _ in true }?.booking()
    }

    /// Writes every mutable field of a locked booking and bumps its version.
    static func save(_ b: BookingRecord, _ work: UnitOfWork) async throws -> BookingRecord {
        let h = b.handover, r = b.returnEvidence, t = b.termination
        return try await work.query("""
            UPDATE booking.bookings SET status = \(b.status.rawValue), submitted_at = \(b.submittedAt)::timestamptz,
                expires_at = \(b.expiresAt)::timestamptz, decided_by = \(b.decidedBy)::uuid, decided_at = \(b.decidedAt)::timestamptz,
                rejection_reason = \(b.rejectionReason), assignee_id = \(b.assignee)::uuid, assignment_id = \(b.assignmentID)::uuid,
                cancelled_by = \(b.cancelledBy), cancelled_at = \(b.cancelledAt)::timestamptz, cancellation_reason = \(b.cancellationReason),
                activated_at = \(b.activatedAt)::timestamptz, completed_at = \(b.completedAt)::timestamptz,
                handover_odometer_km = \(h?.odometerKm)::int8, handover_fuel_percent = \(h?.fuelPercent)::int4,
                handover_notes = \(h?.conditionNotes), handover_by = \(h?.recordedBy)::uuid, handover_at = \(h?.recordedAt)::timestamptz,
                return_odometer_km = \(r?.odometerKm)::int8, return_fuel_percent = \(r?.fuelPercent)::int4,
                return_notes = \(r?.conditionNotes), return_by = \(r?.recordedBy)::uuid, return_at = \(r?.recordedAt)::timestamptz,
                termination_reason = \(t?.reason.rawValue), terminated_by = \(t?.terminatedBy), terminated_at = \(t?.terminatedAt)::timestamptz,
                termination_notes = \(t?.notes), termination_moderation_action = \(t?.moderationAction)::uuid,
                version = version + 1, updated_at = \(b.updatedAt)::timestamptz
            WHERE id = \(b.id)
            RETURNING *
            """).single().booking()
    }

    /// Points a locked booking at its new assignment and employee after a reassignment. The
    /// booking's status, version and `updated_at` stay as they were (DOMAIN.md 7: reassignment
    /// leaves the booking untouched); only whose allocation it counts against moves.
    static func reassign(_ id: UUID, to employee: UUID, assignment: UUID, _ work: UnitOfWork) async throws {
        try await work.query("""
            UPDATE booking.bookings SET assignee_id = \(employee), assignment_id = \(assignment) WHERE id = \(id)
            """)
    }

    /// A page of one side's bookings, newest first, after `after`. Each side is its own statement
    /// so that its organization is an index condition even in a generic plan (README, "Lists").
    static func list(
        _ side: BookingSide, _ filter: BookingFilter, after: TimeKey?, limit: Int, _ database: some Queryable
    ) async throws -> [BookingRecord] {
        let statuses = filter.statuses.map(\.rawValue)
        switch side {
        case .corporate(let corporate, requester: nil):
            return try await database.query("""
                SELECT * FROM booking.bookings
                WHERE corporate_organization_id = \(corporate)
                  AND (cardinality(\(statuses)::text[]) = 0 OR status = ANY(\(statuses)::text[]))
                  AND (\(filter.overlapping)::tstzrange IS NULL OR period && \(filter.overlapping)::tstzrange)
                  AND (\(filter.vehicle)::uuid IS NULL OR vehicle_id = \(filter.vehicle)::uuid)
                  AND (\(after?.time)::timestamptz IS NULL OR (created_at, id) < (\(after?.time)::timestamptz, \(after?.id)::uuid))
                ORDER BY created_at DESC, id DESC LIMIT \(limit)
                """).map { try $0.booking() }
        case .corporate(let corporate, requester: let requester?):
            return try await database.query("""
                SELECT * FROM booking.bookings
                WHERE requested_by = \(requester) AND corporate_organization_id = \(corporate) AND self_booking
                  AND (assignee_id IS NULL OR assignee_id = \(requester))
                  AND (cardinality(\(statuses)::text[]) = 0 OR status = ANY(\(statuses)::text[]))
                  AND (\(filter.overlapping)::tstzrange IS NULL OR period && \(filter.overlapping)::tstzrange)
                  AND (\(filter.vehicle)::uuid IS NULL OR vehicle_id = \(filter.vehicle)::uuid)
                  AND (\(after?.time)::timestamptz IS NULL OR (created_at, id) < (\(after?.time)::timestamptz, \(after?.id)::uuid))
                ORDER BY created_at DESC, id DESC LIMIT \(limit)
                """).map { try $0.booking() }
        case .vendor(let vendor):
            return try await database.query("""
                SELECT * FROM booking.bookings
                WHERE vendor_organization_id = \(vendor) AND status <> 'DRAFT'
                  AND (cardinality(\(statuses)::text[]) = 0 OR status = ANY(\(statuses)::text[]))
                  AND (\(filter.overlapping)::tstzrange IS NULL OR period && \(filter.overlapping)::tstzrange)
                  AND (\(filter.vehicle)::uuid IS NULL OR vehicle_id = \(filter.vehicle)::uuid)
                  AND (\(after?.time)::timestamptz IS NULL OR (created_at, id) < (\(after?.time)::timestamptz, \(after?.id)::uuid))
                ORDER BY created_at DESC, id DESC LIMIT \(limit)
                """).map { try $0.booking() }
        }
    }

    /// REQUESTED bookings due at `now`, locked, skipping those another process holds: each is
    /// expired by exactly one sweep, whatever the number of server processes.
    static func claimExpired(at now: Instant, corporate: UUID?, limit: Int, _ work: UnitOfWork) async throws -> [BookingRecord] {
        try await work.query("""
            SELECT * FROM booking.bookings
            WHERE status = 'REQUESTED' AND expires_at <= \(now)::timestamptz
              AND (\(corporate)::uuid IS NULL OR corporate_organization_id = \(corporate)::uuid)
            ORDER BY expires_at, id
            LIMIT \(limit)
            FOR UPDATE SKIP LOCKED
            """).map { try $0.booking() }
    }
}

extension PostgresRow {
    func booking() throws -> BookingRecord {
        BookingRecord(
            id: try decode(UUID.self, "id"), vehicleID: try decode(UUID.self, "vehicle_id"),
            vendorID: try decode(UUID.self, "vendor_organization_id"), corporateID: try decode(UUID.self, "corporate_organization_id"),
            requestedBy: try decode(UUID.self, "requested_by"), period: try decode(Period.self, "period"),
            status: try enumeration(BookingStatus.self, "status"), notes: try decode(String?.self, "notes"),
            selfBooking: try decode(Bool.self, "self_booking"), submittedAt: try decode(Instant?.self, "submitted_at"),
            expiresAt: try decode(Instant?.self, "expires_at"), decidedBy: try decode(UUID?.self, "decided_by"),
            decidedAt: try decode(Instant?.self, "decided_at"), rejectionReason: try decode(String?.self, "rejection_reason"),
            assignee: try decode(UUID?.self, "assignee_id"), assignmentID: try decode(UUID?.self, "assignment_id"),
            cancelledBy: try decode(String?.self, "cancelled_by"), cancelledAt: try decode(Instant?.self, "cancelled_at"),
            cancellationReason: try decode(String?.self, "cancellation_reason"), activatedAt: try decode(Instant?.self, "activated_at"),
            completedAt: try decode(Instant?.self, "completed_at"), handover: try evidence("handover"),
            returnEvidence: try evidence("return"), termination: try termination(), version: try decode(Int64.self, "version"),
            createdAt: try decode(Instant.self, "created_at"), updatedAt: try decode(Instant.self, "updated_at")
        )
    }

    private func evidence(_ prefix: String) throws -> HandoverEvidence? {
        guard let odometer = try decode(Int64?.self, "\(prefix)_odometer_km") else { return nil }
        return HandoverEvidence(
            odometerKm: odometer, fuelPercent: try decode(Int32.self, "\(prefix)_fuel_percent"),
            conditionNotes: try decode(String?.self, "\(prefix)_notes"), recordedBy: try decode(UUID.self, "\(prefix)_by"),
            recordedAt: try decode(Instant.self, "\(prefix)_at")
        )
    }

    private func termination() throws -> BookingTermination? {
        guard let reason = try enumeration(TerminationReason?.self, "termination_reason") else { return nil }
        return BookingTermination(
            reason: reason, terminatedBy: try decode(String.self, "terminated_by"), terminatedAt: try decode(Instant.self, "terminated_at"),
            notes: try decode(String?.self, "termination_notes"), moderationAction: try decode(UUID?.self, "termination_moderation_action")
        )
    }
}
