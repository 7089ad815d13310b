import Foundation
import KaroKarPostgres
import KaroKarTestSupport
import Testing

/// Placing or releasing a record refreshes that vehicle's gaps (`fleet.refresh_free`, called by
/// the availability trigger) through the vehicle's own index, whatever plan PostgreSQL keeps for
/// the function's statements: with the generic plan it used to AND that index with an OR of two
/// scans of a GiST index over every vehicle's gaps (fleet migration 8), a cost that grew with the
/// whole fleet's calendar on every reservation.
@Suite("Fleet: refreshing a vehicle's gaps reads only that vehicle's")
struct FreeIntervalPlanTests {
    @Test func refreshingGapsScansNoIndexOverEveryVehicle() async throws {
        let world = try await FleetWorld.make()
        let vendor = try await world.organization(.vendor)
        // 300 listed vehicles with 12 reservations each (13 gaps apiece), a day apart from 2090.
        try await world.pool.query("""
            INSERT INTO fleet.vehicle (id, organization_id, ownership_type, make, model, year, license_plate, status)
            SELECT ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, \(vendor), 'VENDOR_OWNED', 'Tata', 'Nexon', 2022,
                   'PLAN' || g, 'ACTIVE'
            FROM generate_series(1, 300) AS g
            """)
        try await world.pool.query("SELECT fleet.rebuild_all_free()")
        try await world.pool.query("""
            INSERT INTO fleet.availability (id, vehicle_id, organization_id, period, status, source_type, source_id)
            SELECT gen_random_uuid(), ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, \(vendor),
                   tstzrange(timestamptz '2090-01-01' + d * interval '1 day', timestamptz '2090-01-01' + d * interval '1 day' + interval '8 hours'),
                   'RESERVED', 'BOOKING', gen_random_uuid()
            FROM generate_series(1, 300) AS g, generate_series(0, 11) AS d
            """)
        try await world.pool.query("ANALYZE fleet.vehicle_free")
        let gistScans = try await world.pool.withConnection { session in
            func scans() async throws -> Int {
                _ = try await session.query("SELECT pg_stat_force_next_flush()")
                _ = try await session.query("SELECT pg_stat_clear_snapshot()")
                return try await session.query("""
                    SELECT coalesce(sum(idx_scan), 0)::int8 AS n FROM pg_stat_user_indexes
                    WHERE schemaname = 'fleet' AND relname = 'vehicle_free' AND indexrelname <> 'vehicle_free_vehicle'
                    """).single().decode(Int.self, "n")
            }
            // The plan PL/pgSQL keeps after a few calls, from the first.
            _ = try await session.query("SET plan_cache_mode = force_generic_plan")
            let before = try await scans()
            for day in 0..<12 {
                let vehicle = "00000000-0000-4000-8000-\(String(format: "%012d", 7 + day))"
                _ = try await session.query("""
                    INSERT INTO fleet.availability (id, vehicle_id, organization_id, period, status, source_type, source_id)
                    VALUES (gen_random_uuid(), \(vehicle)::uuid, \(vendor),
                            tstzrange(timestamptz '2090-01-01' + \(day) * interval '1 day' + interval '10 hours',
                                      timestamptz '2090-01-01' + \(day) * interval '1 day' + interval '12 hours'),
                            'RESERVED', 'BOOKING', gen_random_uuid())
                    """)
                _ = try await session.query("""
                    UPDATE fleet.availability SET released_at = now()
                    WHERE vehicle_id = \(vehicle)::uuid AND released_at IS NULL AND lower(period) = timestamptz '2090-01-01' + \(day) * interval '1 day'
                    """)
            }
            let after = try await scans()
            _ = try await session.query("RESET plan_cache_mode")
            return after - before
        }
        #expect(gistScans == 0, "\(gistScans) scans of the gaps' GiST indexes for 24 refreshes of single vehicles")
        // And the gaps are still right: the vehicles whose reservation was released are free for
        // that day's first eight hours, the new two-hour reservations carved out.
        let pieces = try await world.pool.query("""
            SELECT count(*)::int8 AS n FROM fleet.vehicle_free
            WHERE vehicle_id = '00000000-0000-4000-8000-000000000007'
              AND free @> tstzrange(timestamptz '2090-01-01', timestamptz '2090-01-01 10:00')
            """).single().decode(Int.self, "n")
        #expect(pieces == 1)
    }
}
