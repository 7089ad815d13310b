import Foundation
import KaroKarPostgres
import KaroKarTestSupport
import Testing

/// The tables every booking call writes (bookings, assignments, Fleet's availability records, the
/// outbox and its deliveries) keep their single-column rules in domains, not CHECKs: PostgreSQL
/// reads a table's CHECKs from their stored text and plans them again on every INSERT or UPDATE
/// statement, a domain's once per session (booking migration 2, assignment 2, fleet 9, events
/// 11). These tests show the rules still hold in the database, raw SQL against each, and that no
/// single-column CHECK comes back to those tables.
@Suite("The hot tables' single-column rules are domains, and still hold", .serialized)
struct RulesAsDomainsTests {
    static let hotTables = [
        "booking.bookings", "assignment.assignments", "fleet.availability", "karokar_events.outbox", "karokar_events.delivery",
    ]

    @Test("no CHECK on the hot tables names a single column (each would be re-read per statement)")
    func noSingleColumnChecks() async throws {
        try await TestMarketplace.run(background: false) { market in
            let rows = try await market.pool.query("""
                SELECT conrelid::regclass::text AS relation, conname
                FROM pg_constraint
                WHERE contype = 'c' AND conrelid::regclass::text = ANY(\(Self.hotTables)::text[]) AND cardinality(conkey) = 1
                  -- attempts keeps its CHECK: the claim functions return it as int (events migration 11)
                  AND conname <> 'delivery_attempts_check'
                ORDER BY 1, 2
                """)
            let found = try rows.map { "\(try $0.decode(String.self, "relation")).\(try $0.decode(String.self, "conname"))" }
            #expect(found == [])
        }
    }

    @Test("raw SQL breaking each rule is refused with check_violation and changes nothing")
    func rulesHold() async throws {
        try await TestMarketplace.run { market in
            let world = try await BookingWorld.make(market)
            let pool = market.pool
            let vehicle = UUID(uuidString: world.vehicle.id)!
            let booking = UUID(), assignment = UUID(), record = UUID()
            // One valid row of each, then every way of breaking a rule on it.
            try await pool.query("""
                INSERT INTO booking.bookings (id, vehicle_id, vendor_organization_id, corporate_organization_id, requested_by, period,
                                              status, created_at, updated_at)
                VALUES (\(booking), \(vehicle), \(UUID()), \(UUID()), \(UUID()), tstzrange('2031-01-01', '2031-01-03', '[)'),
                        'DRAFT', now(), now())
                """)
            try await pool.query("""
                INSERT INTO assignment.assignments (id, vehicle_id, corporate_organization_id, employee_id, period, status, created_by,
                                                    created_at, updated_at)
                VALUES (\(assignment), \(vehicle), \(UUID()), \(UUID()), tstzrange('2031-02-01', NULL, '[)'), 'PENDING', 'test', now(), now())
                """)
            try await pool.query("""
                INSERT INTO fleet.availability (id, vehicle_id, organization_id, period, status, source_type, source_id)
                VALUES (\(record), \(vehicle), \(UUID()), tstzrange('2031-03-01', '2031-03-02', '[)'), 'RESERVED', 'BOOKING', \(UUID()))
                """)
            let broken: [SQL] = [
                "UPDATE booking.bookings SET status = 'LOST' WHERE id = \(booking)",
                "UPDATE booking.bookings SET period = tstzrange('2031-01-01', NULL) WHERE id = \(booking)",
                "UPDATE booking.bookings SET period = tstzrange('2031-01-01', '2031-01-03', '[]') WHERE id = \(booking)",
                "UPDATE booking.bookings SET period = 'empty' WHERE id = \(booking)",
                "UPDATE booking.bookings SET notes = repeat('n', 2001) WHERE id = \(booking)",
                "UPDATE booking.bookings SET version = 0 WHERE id = \(booking)",
                "UPDATE booking.bookings SET handover_odometer_km = -1 WHERE id = \(booking)",
                "UPDATE booking.bookings SET return_odometer_km = -1 WHERE id = \(booking)",
                "UPDATE booking.bookings SET handover_fuel_percent = 101 WHERE id = \(booking)",
                "UPDATE booking.bookings SET return_fuel_percent = -1 WHERE id = \(booking)",
                "UPDATE booking.bookings SET termination_reason = 'BORED', terminated_at = now(), terminated_by = 'x', status = 'TERMINATED' WHERE id = \(booking)",
                "UPDATE assignment.assignments SET status = 'LOST' WHERE id = \(assignment)",
                "UPDATE assignment.assignments SET close_reason = 'BORED', closed_at = now(), status = 'CLOSED' WHERE id = \(assignment)",
                "UPDATE assignment.assignments SET period = tstzrange(NULL, '2031-02-03') WHERE id = \(assignment)",
                "UPDATE assignment.assignments SET version = 0 WHERE id = \(assignment)",
                """
                INSERT INTO fleet.availability (id, vehicle_id, organization_id, period, status, source_type, source_id)
                VALUES (\(UUID()), \(vehicle), \(UUID()), tstzrange('2031-04-01', '2031-04-02', '[)'), 'LOST', 'BOOKING', \(UUID()))
                """,
                """
                INSERT INTO fleet.availability (id, vehicle_id, organization_id, period, status, source_type, source_id)
                VALUES (\(UUID()), \(vehicle), \(UUID()), tstzrange('2031-04-01', '2031-04-02', '[)'), 'RESERVED', 'WHIM', \(UUID()))
                """,
                """
                INSERT INTO fleet.availability (id, vehicle_id, organization_id, period, status, source_type, source_id)
                VALUES (\(UUID()), \(vehicle), \(UUID()), tstzrange('2031-04-01', '2031-04-02', '[)'), 'RESERVED', 'MAINTENANCE', \(UUID()))
                """,
                """
                INSERT INTO fleet.availability (id, vehicle_id, organization_id, period, status, source_type, source_id)
                VALUES (\(UUID()), \(vehicle), \(UUID()), tstzrange(NULL, '2031-04-02', '[)'), 'BLOCKED', 'MANUAL_BLOCK', \(UUID()))
                """,
                """
                INSERT INTO karokar_events.outbox (event_id, event_type, aggregate_type, aggregate_id, occurred_at, envelope, trace_parent)
                VALUES (\(UUID()), 'test.event', 'test', 'x', now(), '\\x00', repeat('t', 129))
                """,
                "INSERT INTO karokar_events.delivery (consumer, seq, aggregate_key, state) VALUES ('test', 1, 'test:x', 'lost')",
            ]
            let before = try await Self.snapshot(pool, booking, assignment, vehicle)
            for statement in broken {
                await #expect {
                    try await pool.query(statement)
                } throws: { error in
                    (error as? PostgresError)?.code == .checkViolation
                }
            }
            #expect(try await Self.snapshot(pool, booking, assignment, vehicle) == before)
            // The rules across columns are still CHECKs: a pairing the list of pairs allows.
            try await pool.query("""
                INSERT INTO fleet.availability (id, vehicle_id, organization_id, period, status, source_type, source_id)
                VALUES (\(UUID()), \(vehicle), \(UUID()), tstzrange('2031-05-01', '2031-05-02', '[)'), 'ALLOCATED', 'ASSIGNMENT', \(UUID()))
                """)
        }
    }

    /// The rows the refused statements aimed at, as text (and how many rows of the vehicle's,
    /// the test event's and the test consumer's exist): what they must leave as they were.
    static func snapshot(_ pool: PostgresPool, _ booking: UUID, _ assignment: UUID, _ vehicle: UUID) async throws -> [String] {
        let rows = try await pool.query("""
            SELECT r FROM (
                SELECT t::text AS r FROM booking.bookings AS t WHERE t.id = \(booking)
                UNION ALL SELECT t::text FROM assignment.assignments AS t WHERE t.id = \(assignment)
                UNION ALL SELECT t::text FROM fleet.availability AS t WHERE t.vehicle_id = \(vehicle)
                UNION ALL SELECT 'outbox ' || count(*) FROM karokar_events.outbox WHERE event_type = 'test.event'
                UNION ALL SELECT 'delivery ' || count(*) FROM karokar_events.delivery WHERE consumer = 'test'
            ) AS rows ORDER BY 1
            """)
        return try rows.map { try $0.decode(String.self, "r") }
    }
}
