import Foundation
import KaroKarKernel
import KaroKarPostgres

/// The marketplace search (DOMAIN.md section 5, "Search").
enum SearchStore {
    /// `ACTIVE` vehicles of `ACTIVE` owners with no open record overlapping the period (extended
    /// by the owner's turnaround buffer, as a booking of it would be), by id.
    ///
    /// The availability test is a scalar subquery on purpose: PostgreSQL then probes the open
    /// records' GiST index once per candidate while walking listings in id order, and stops at
    /// the page's end, instead of planning an anti-join over every record (see the benchmark
    /// note in the README: 100,000 vehicles, 1,000,000 records). Deploy/bench-fleet.sh explains
    /// this statement as it is written here.
    static func search(
        _ search: VehicleSearch, reach: SearchReach, after: UUID?, limit: Int, _ work: UnitOfWork
    ) async throws -> [Vehicle] {
        try await work.query("""
            SELECT \(VehicleStore.columns) FROM fleet.vehicle AS v
            JOIN fleet.owner AS o ON o.organization_id = v.organization_id AND o.status = 'ACTIVE'
            WHERE v.status = 'ACTIVE'
              AND (\(reach.everything) OR v.ownership_type = 'VENDOR_OWNED' OR v.organization_id = \(reach.caller))
              AND (\(search.ownership?.rawValue)::text IS NULL OR v.ownership_type = \(search.ownership?.rawValue)::text)
              AND (\(reach.owner)::uuid IS NULL OR v.organization_id = \(reach.owner)::uuid)
              AND (\(search.make)::text IS NULL OR lower(v.make) = lower(\(search.make)::text))
              AND (\(search.model)::text IS NULL OR lower(v.model) = lower(\(search.model)::text))
              AND (\(search.yearMin)::int IS NULL OR v.year >= \(search.yearMin)::int)
              AND (\(search.yearMax)::int IS NULL OR v.year <= \(search.yearMax)::int)
              AND (\(after)::uuid IS NULL OR v.id > \(after)::uuid)
              AND (SELECT NOT EXISTS (
                  SELECT 1 FROM fleet.availability AS a
                  WHERE a.vehicle_id = v.id AND a.released_at IS NULL
                    AND a.blocked && fleet.with_turnaround(\(search.period)::tstzrange, o.turnaround_minutes)))
            ORDER BY v.id LIMIT \(limit)
            """).map { try $0.vehicle() }
    }
}
