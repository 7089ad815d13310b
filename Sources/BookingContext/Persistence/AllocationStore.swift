import Foundation
import KaroKarKernel
import KaroKarPostgres

/// SQL of `booking.allocations` and `booking.allocation_locks`, and the counts an allocation is
/// checked against.
enum AllocationStore {
    /// The key of a corporate's default in `employee_id`.
    static let defaultKey = Allocation.defaultKey

    /// Takes the employee's lock row (made on first use) until the unit of work ends: checks of
    /// one employee's allocation take turns across every server process.
    static func lockEmployee(_ employee: UUID, of corporate: UUID, _ work: UnitOfWork) async throws {
        try await work.query("""
            INSERT INTO booking.allocation_locks (corporate_organization_id, employee_id) VALUES (\(corporate), \(employee))
            ON CONFLICT (corporate_organization_id, employee_id) DO UPDATE SET locked_at = clock_timestamp()
            """)
    }

    /// The employee's override, else the corporate's default, else nil.
    static func effective(_ employee: UUID, of corporate: UUID, _ database: some Queryable) async throws -> Allocation? {
        try await database.query("""
            SELECT * FROM booking.allocations
            WHERE corporate_organization_id = \(corporate) AND employee_id IN (\(employee), \(defaultKey))
            ORDER BY employee_id = \(defaultKey) LIMIT 1
            """).first { _ in true }?.allocation()
    }

    static func lock(_ employee: UUID?, of corporate: UUID, _ work: UnitOfWork) async throws -> Allocation? {
        try await work.query("""
            SELECT * FROM booking.allocations
            WHERE corporate_organization_id = \(corporate) AND employee_id = \(employee ?? defaultKey) FOR UPDATE
            """).first { _ in true }?.allocation()
    }

    /// Creates or replaces one allocation (version 1, or one more than before).
    static func upsert(
        _ employee: UUID?, of corporate: UUID, maxActive: Int64, maxDays: Int64, by user: UUID, at now: Instant, _ work: UnitOfWork
    ) async throws -> Allocation {
        try await work.query("""
            INSERT INTO booking.allocations AS a
                (corporate_organization_id, employee_id, max_active_bookings, max_days_per_month, updated_by, updated_at)
            VALUES (\(corporate), \(employee ?? defaultKey), \(maxActive), \(maxDays), \(user), \(now)::timestamptz)
            ON CONFLICT (corporate_organization_id, employee_id) DO UPDATE SET
                max_active_bookings = EXCLUDED.max_active_bookings, max_days_per_month = EXCLUDED.max_days_per_month,
                updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at, version = a.version + 1
            RETURNING *
            """).single().allocation()
    }

    /// Deletes one employee's override (locked by the caller); the corporate's default applies again.
    static func remove(_ employee: UUID, of corporate: UUID, _ work: UnitOfWork) async throws {
        try await work.query("""
            DELETE FROM booking.allocations WHERE corporate_organization_id = \(corporate) AND employee_id = \(employee)
            """)
    }

    /// The corporate's default first, then overrides by employee id, after `after`.
    static func list(of corporate: UUID, after: UUID?, limit: Int, _ database: some Queryable) async throws -> [Allocation] {
        try await database.query("""
            SELECT * FROM booking.allocations
            WHERE corporate_organization_id = \(corporate) AND (\(after)::uuid IS NULL OR employee_id > \(after)::uuid)
            ORDER BY employee_id LIMIT \(limit)
            """).map { try $0.allocation() }
    }

    /// Periods of the employee's non-terminal bookings, except `excluding`: those assigned to them
    /// (through AssignBooking, a self-booking's approval, or a reassignment, which moves
    /// `assignee_id`), and their self-bookings not yet assigned to anyone. A booking counts for
    /// one employee only: once reassigned, no longer for its requester.
    static func heldPeriods(
        _ employee: UUID, of corporate: UUID, excluding: UUID?, _ database: some Queryable
    ) async throws -> [Period] {
        try await database.query("""
            SELECT period FROM booking.bookings
            WHERE corporate_organization_id = \(corporate) AND status = ANY(\(BookingStatus.counted.map(\.rawValue))::text[])
              AND (assignee_id = \(employee) OR (assignee_id IS NULL AND self_booking AND requested_by = \(employee)))
              AND (\(excluding)::uuid IS NULL OR id <> \(excluding)::uuid)
            """).map { try $0.decode(Period.self, "period") }
    }
}

extension PostgresRow {
    func allocation() throws -> Allocation {
        let employee = try decode(UUID.self, "employee_id")
        return Allocation(
            corporateID: try decode(UUID.self, "corporate_organization_id"),
            employee: employee == AllocationStore.defaultKey ? nil : employee,
            maxActiveBookings: try decode(Int64.self, "max_active_bookings"), maxDaysPerMonth: try decode(Int64.self, "max_days_per_month"),
            version: try decode(Int64.self, "version"), updatedAt: try decode(Instant.self, "updated_at")
        )
    }
}
