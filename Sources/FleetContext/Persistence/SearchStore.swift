import Foundation
import KaroKarKernel
import KaroKarPostgres

/// The marketplace search (DOMAIN.md section 5, "Search") and the flexible search, over the free
/// intervals of `fleet.vehicle_free` (migration 4; README, "Lists and search").
///
/// A vehicle answers when it is `ACTIVE`, its owner `ACTIVE`, the caller reaches it, the filters
/// match, and one of its free intervals holds a booking of `stretch.length` from some start
/// between `earliestStart` and `latestStart`, extended by the owner's turnaround buffer; its
/// answer is the earliest such start. Pages are by vehicle id.
///
/// Three plans, raced so the cost follows the cheaper one whatever the question:
/// - **walk**: listings that pass the filters, in id order (the vehicle indexes), each probed in
///   its free intervals (index-only); cheap when the filters are selective or many vehicles free;
/// - **gaps**: the free intervals that can hold the stretch, from the GiST index, bucket by bucket
///   in id order (a bucket is the id's first 10 bits), joined to their listings; cheap when few
///   vehicles are free (long windows, questions with no answer) and without selective filters.
///   Each step scans a range of buckets (2, 4, 8, ... of 1,024) in one index scan.
/// - **make** (a make is asked for): the make's free intervals that can hold the stretch, from
///   the GiST index over (make, model, free) (migration 6), all of them in one scan (a model
///   asked for narrows it in the index), sorted by id; cheap when
///   the make has few answers (a rare make over a long window), where the gaps scan every bucket
///   among the other makes' intervals and the walk probes every listing of the make. Its steps
///   are budgets of kept intervals (2,048, 8,192, ...): a step that finds more than its budget
///   gives up (the scan is unordered, so a partial one settles nothing) and the next scans again.
/// Without a selective filter only the gaps run (the walk rejects almost nothing); with one, the
/// walk races the make plan when a make is asked for and the gaps otherwise: the two take turns
/// with doubling budgets (walk 128, 256, ... listings; gaps 2, 4, ... buckets; make 2,048, 8,192,
/// ... intervals), the turn going to the plan that has spent less time so far (once per search,
/// to a walk whose answer rate says its next step fills the page: `walkSettlesNext`), and the
/// first to settle the page answers: the cost is at most about twice the cheaper plan's.
enum SearchStore {
    /// Which plans answer: the server races them; the oracle tests pin each in turn, since all
    /// must give the same answers and a small test fleet would otherwise settle every page with
    /// whichever plan goes first. `makeOnly` answers a question without a make with the gaps.
    enum Plans: Sendable { case race, walkOnly, gapsOnly, makeOnly }
    @TaskLocal static var plans = Plans.race
    /// The make plan's first budget (kept intervals; each next step's is four times the last).
    /// The oracle tests start it at 1, so their small fleets take the give-up-and-rescan path too.
    /// 2,048, not 512: a rare make over a long window has 500 to 3,000 intervals that can hold it
    /// (the benchmark's "60 days, Skoda"), and a scan that gives up at 512 was a whole wasted step
    /// (p99 90 -> 50 ms, calls/s +50%, same machine; README "Search").
    @TaskLocal static var firstMakeBudget = 2048

    /// The first `limit` answers after `after`, by id.
    static func search(
        _ search: VehicleSearch, reach: SearchReach, after: UUID?, limit: Int, _ work: UnitOfWork
    ) async throws -> [AvailableVehicle] {
        let selective = search.make != nil || search.model != nil || search.yearMin != nil || search.yearMax != nil
            || reach.owner != nil || search.ownership == .corporateOwned
        var walkAfter = after, walkBudget = 128, walked: [AvailableVehicle] = [], listingsWalked = 0
        var walkBonus = true  // one turn out of order for a walk about to settle (below)
        var nextBucket = after.map(bucket) ?? 0, buckets = 2, gapped: [AvailableVehicle] = []
        var makeBudget = max(firstMakeBudget, 1)
        // The walk's rival: the make's own intervals when a make is asked for (unless the gaps
        // are pinned), the bucketed gaps otherwise.
        let byMake = search.make != nil && plans != .gapsOnly
        // Turns go by time spent, not by steps: a walk step probes listings (a few pages each), a
        // gaps step reads index pages, so equal steps would not be equal costs.
        let clock = ContinuousClock()
        var walkTime = Duration.zero, gapsTime = Duration.zero
        while true {
            let started = clock.now
            let walkTurn = switch plans {
            case .race: selective && (walkTime <= gapsTime || walkSettlesNext(found: walked.count, walked: listingsWalked, limit: limit, budget: walkBudget, bonus: &walkBonus))
            case .walkOnly: true
            case .gapsOnly, .makeOnly: false
            }
            if walkTurn {
                let (found, boundary) = try await walk(search, reach: reach, after: walkAfter, budget: walkBudget, limit: limit - walked.count, work)
                walked += found.prefix(limit - walked.count)
                guard walked.count < limit, let boundary else { return walked }
                walkAfter = boundary
                listingsWalked += walkBudget
                walkBudget = min(walkBudget * 2, 1 << 20)
                walkTime += clock.now - started
            } else if byMake {
                if let found = try await make(search, reach: reach, after: after, budget: makeBudget, limit: limit, work) { return found }
                makeBudget = min(makeBudget * 4, 1 << 30)
                gapsTime += clock.now - started
            } else {
                let last = min(nextBucket + buckets - 1, lastBucket)
                gapped += try await gaps(search, reach: reach, after: after, buckets: nextBucket...last, limit: limit - gapped.count, work)
                if gapped.count >= limit || last == lastBucket { return Array(gapped.prefix(limit)) }
                nextBucket = last + 1
                buckets *= 2
                gapsTime += clock.now - started
            }
        }
    }

    /// Whether the walk's next step (of `budget` listings) is expected to fill the page at the
    /// rate its steps so far found answers, with a quarter to spare: then it takes the next turn
    /// even when it has spent more time than its rival, once per search (`bonus`). Without it, a
    /// walk that found 30 of 50 answers in 128 listings handed its turn to the make plan, whose
    /// one scan of every matching interval then cost five to ten times the walk's next step (the
    /// benchmark's "7 days, Skoda Sigma 2025+" in weeks where about a third of them are free;
    /// README "Search"). Ids are random, so the rate of answers along the ids is the fleet's.
    static func walkSettlesNext(found: Int, walked: Int, limit: Int, budget: Int, bonus: inout Bool) -> Bool {
        guard bonus, found > 0, walked > 0, limit > found else { return false }
        // Listings still needed at the rate so far, against three quarters of the next step (in
        // Double: no product of these counts can trap).
        guard Double(limit - found) * Double(walked) / Double(found) <= Double(budget) * 0.75 else { return false }
        bonus = false
        return true
    }

    static let lastBucket = 1023

    /// The id's bucket, its first 10 bits (as `fleet.vehicle_free.bucket` computes it).
    static func bucket(_ id: UUID) -> Int {
        Int(id.uuid.0) << 2 | Int(id.uuid.1) >> 6
    }

    /// The make plan: the first `limit` answers after `after`, by id, or nil when more than
    /// `budget` of the make's intervals (ids after `after`, the caller may see them, the filters
    /// match) can hold the stretch: the index scan is unordered, so only a complete one settles
    /// the page. The kept intervals are sorted by id and joined, lazily, to their listings and
    /// owners up to the page's end (`OFFSET 0` keeps the listing a lookup by id: a join the
    /// planner may choose instead reads every listing of the make). The model, when asked for,
    /// is a clause of its own, not `($n IS NULL OR ...)`: PostgreSQL plans this statement
    /// generically after five runs, and a generic plan cannot use `$n IS NULL OR` as an index
    /// condition, so it scanned every interval of the make and filtered the model after
    /// (auto_explain under the benchmark: 1,171 rows read for 124 kept, p99 51 ms; README
    /// "Search").
    private static func make(
        _ search: VehicleSearch, reach: SearchReach, after: UUID?, budget: Int, limit: Int, _ work: UnitOfWork
    ) async throws -> [AvailableVehicle]? {
        guard let make = search.make else { return nil }
        let stretch = search.stretch
        let span = Period(start: stretch.earliestStart, end: stretch.latestEnd) ?? .from(stretch.earliestStart)
        let core = Period(start: stretch.latestStart, end: Instant(microseconds: stretch.earliestStart.microseconds + stretch.length))
        let rows = try await work.query("""
            WITH m AS MATERIALIZED (
                SELECT g.vehicle_id, g.free FROM fleet.vehicle_free AS g
                WHERE g.make_key = lower(\(make)::text)
                  AND g.free && \(span)::tstzrange AND g.free @> coalesce(\(core)::tstzrange, 'empty'::tstzrange)
                  AND (\(after)::uuid IS NULL OR g.vehicle_id > \(after)::uuid)
                  AND (\(reach.everything) OR g.vendor_owned OR g.organization_id = \(reach.caller))
                  AND (\(reach.owner)::uuid IS NULL OR g.organization_id = \(reach.owner)::uuid)
                  AND (\(search.ownership?.rawValue)::text IS NULL OR g.vendor_owned = (\(search.ownership?.rawValue)::text = 'VENDOR_OWNED'))
                  \(clause: search.model.map { "AND g.model_key = lower(\($0)::text)" })
                  AND (\(search.yearMin)::int IS NULL OR g.year >= \(search.yearMin)::int)
                  AND (\(search.yearMax)::int IS NULL OR g.year <= \(search.yearMax)::int)
                  AND greatest(lower(g.free), \(stretch.earliestStart)::timestamptz) <= \(stretch.latestStart)::timestamptz
                LIMIT \(budget + 1)::bigint)
            SELECT c.matched, a.* FROM (SELECT count(*) AS matched FROM m) AS c
            LEFT JOIN LATERAL (
                SELECT DISTINCT ON (f.vehicle_id) \(VehicleStore.columns), greatest(lower(f.free), \(stretch.earliestStart)::timestamptz) AS start
                FROM (SELECT m.vehicle_id, m.free FROM m ORDER BY m.vehicle_id, m.free OFFSET 0) AS f
                CROSS JOIN LATERAL (SELECT * FROM fleet.vehicle AS w WHERE w.id = f.vehicle_id OFFSET 0) AS v
                JOIN fleet.owner AS o ON o.organization_id = v.organization_id AND o.status = 'ACTIVE'
                WHERE c.matched <= \(budget)::bigint AND v.status = 'ACTIVE'
                  AND (upper_inf(f.free) OR greatest(lower(f.free), \(stretch.earliestStart)::timestamptz)
                       + \(stretch.length)::bigint * interval '1 microsecond' + o.turnaround_minutes * interval '1 minute'
                       <= upper(f.free))
                  AND (\(search.ownership?.rawValue)::text IS NULL OR v.ownership_type = \(search.ownership?.rawValue)::text)
                  AND lower(v.make) = lower(\(make)::text)
                  AND (\(search.model)::text IS NULL OR lower(v.model) = lower(\(search.model)::text))
                  AND (\(search.yearMin)::int IS NULL OR v.year >= \(search.yearMin)::int)
                  AND (\(search.yearMax)::int IS NULL OR v.year <= \(search.yearMax)::int)
                ORDER BY f.vehicle_id, f.free
                LIMIT \(limit)) AS a ON true
            """)
        guard let first = rows.first(where: { _ in true }), try first.decode(Int64.self, "matched") <= Int64(budget) else { return nil }
        return try rows.compactMap { row in
            guard try row.decode(UUID?.self, "id") != nil else { return nil }  // no answer: the count's row alone
            return AvailableVehicle(vehicle: try row.vehicle(), start: try row.decode(Instant.self, "start"))
        }
    }

    /// The walk: the next `budget` listings after `after` that pass the filters, each probed;
    /// the answers among them (at most `limit`) and, unless the listings ran out, the last one
    /// walked (where the next step resumes).
    private static func walk(
        _ search: VehicleSearch, reach: SearchReach, after: UUID?, budget: Int, limit: Int, _ work: UnitOfWork
    ) async throws -> ([AvailableVehicle], UUID?) {
        let stretch = search.stretch
        // The listings are filtered from an index alone (index-only: the vehicle indexes include
        // every filtered column), and only the answers' rows are read.
        let rows = try await work.query("""
            SELECT \(VehicleStore.columns), x.walked, x.start FROM (
                SELECT c.id, row_number() OVER (ORDER BY c.id) AS walked,
                       (SELECT min(greatest(lower(f.free), \(stretch.earliestStart)::timestamptz)) FROM fleet.vehicle_free AS f
                        WHERE f.vehicle_id = c.id
                          AND greatest(lower(f.free), \(stretch.earliestStart)::timestamptz) <= \(stretch.latestStart)::timestamptz
                          AND (upper_inf(f.free) OR greatest(lower(f.free), \(stretch.earliestStart)::timestamptz)
                               + \(stretch.length)::bigint * interval '1 microsecond' + c.turnaround_minutes * interval '1 minute'
                               <= upper(f.free))) AS start
                FROM (
                    SELECT w.id, o.turnaround_minutes FROM fleet.vehicle AS w
                    JOIN fleet.owner AS o ON o.organization_id = w.organization_id AND o.status = 'ACTIVE'
                    WHERE w.status = 'ACTIVE'
                      AND (\(reach.everything) OR w.ownership_type = 'VENDOR_OWNED' OR w.organization_id = \(reach.caller))
                      AND (\(search.ownership?.rawValue)::text IS NULL OR w.ownership_type = \(search.ownership?.rawValue)::text)
                      AND (\(reach.owner)::uuid IS NULL OR w.organization_id = \(reach.owner)::uuid)
                      AND (\(search.make)::text IS NULL OR lower(w.make) = lower(\(search.make)::text))
                      AND (\(search.model)::text IS NULL OR lower(w.model) = lower(\(search.model)::text))
                      AND (\(search.yearMin)::int IS NULL OR w.year >= \(search.yearMin)::int)
                      AND (\(search.yearMax)::int IS NULL OR w.year <= \(search.yearMax)::int)
                      AND (\(after)::uuid IS NULL OR w.id > \(after)::uuid)
                    ORDER BY w.id LIMIT \(budget)) AS c
            ) AS x
            CROSS JOIN LATERAL (SELECT * FROM fleet.vehicle AS v WHERE v.id = x.id) AS v
            WHERE x.start IS NOT NULL OR x.walked = \(budget)
            ORDER BY x.id
            LIMIT \(limit + 1)
            """)
        var found: [AvailableVehicle] = []
        var boundary: UUID?
        for row in rows {
            let vehicle = try row.vehicle()
            if let start = try row.decode(Instant?.self, "start") { found.append(AvailableVehicle(vehicle: vehicle, start: start)) }
            if try row.decode(Int64.self, "walked") == Int64(budget) { boundary = vehicle.id }
        }
        return (found, boundary)
    }

    /// The gaps: answers in `buckets` (ids after `after`), at most `limit`, by id. The index
    /// finds the free intervals overlapping `[earliestStart, latestEnd)` that contain
    /// `[latestStart, earliestStart + length)` when that is not empty (every suitable interval
    /// does); the rest of the test, with the owner's buffer, is applied to what it finds.
    private static func gaps(
        _ search: VehicleSearch, reach: SearchReach, after: UUID?, buckets: ClosedRange<Int>, limit: Int, _ work: UnitOfWork
    ) async throws -> [AvailableVehicle] {
        let stretch = search.stretch
        let span = Period(start: stretch.earliestStart, end: stretch.latestEnd) ?? .from(stretch.earliestStart)
        let core = Period(start: stretch.latestStart, end: Instant(microseconds: stretch.earliestStart.microseconds + stretch.length))
        // One index range scan over the buckets; the few index tuples it keeps (the caller may see
        // them and the filters match: their INCLUDE columns say so, migration 5) are sorted by id
        // and only then joined, lazily, up to the page's end. The listing's own columns are
        // tested again after the join (the copies follow them in the same transaction; the second
        // test costs nothing for the rows that reach it).
        return try await work.query("""
            SELECT DISTINCT ON (f.vehicle_id) \(VehicleStore.columns), greatest(lower(f.free), \(stretch.earliestStart)::timestamptz) AS start
            FROM (SELECT g.vehicle_id, g.free FROM fleet.vehicle_free AS g
                  WHERE g.bucket BETWEEN \(buckets.lowerBound)::int AND \(buckets.upperBound)::int
                    AND g.free && \(span)::tstzrange AND g.free @> coalesce(\(core)::tstzrange, 'empty'::tstzrange)
                    AND (\(after)::uuid IS NULL OR g.vehicle_id > \(after)::uuid)
                    AND (\(reach.everything) OR g.vendor_owned OR g.organization_id = \(reach.caller))
                    AND (\(reach.owner)::uuid IS NULL OR g.organization_id = \(reach.owner)::uuid)
                    AND (\(search.ownership?.rawValue)::text IS NULL OR g.vendor_owned = (\(search.ownership?.rawValue)::text = 'VENDOR_OWNED'))
                    AND (\(search.make)::text IS NULL OR g.make_key = lower(\(search.make)::text))
                    AND (\(search.model)::text IS NULL OR g.model_key = lower(\(search.model)::text))
                    AND (\(search.yearMin)::int IS NULL OR g.year >= \(search.yearMin)::int)
                    AND (\(search.yearMax)::int IS NULL OR g.year <= \(search.yearMax)::int)
                    AND greatest(lower(g.free), \(stretch.earliestStart)::timestamptz) <= \(stretch.latestStart)::timestamptz
                  ORDER BY g.vehicle_id, g.free OFFSET 0) AS f
            CROSS JOIN LATERAL (SELECT * FROM fleet.vehicle AS w WHERE w.id = f.vehicle_id) AS v
            JOIN fleet.owner AS o ON o.organization_id = v.organization_id AND o.status = 'ACTIVE'
            WHERE v.status = 'ACTIVE'
              AND (upper_inf(f.free) OR greatest(lower(f.free), \(stretch.earliestStart)::timestamptz)
                   + \(stretch.length)::bigint * interval '1 microsecond' + o.turnaround_minutes * interval '1 minute'
                   <= upper(f.free))
              AND (\(search.ownership?.rawValue)::text IS NULL OR v.ownership_type = \(search.ownership?.rawValue)::text)
              AND (\(search.make)::text IS NULL OR lower(v.make) = lower(\(search.make)::text))
              AND (\(search.model)::text IS NULL OR lower(v.model) = lower(\(search.model)::text))
              AND (\(search.yearMin)::int IS NULL OR v.year >= \(search.yearMin)::int)
              AND (\(search.yearMax)::int IS NULL OR v.year <= \(search.yearMax)::int)
            ORDER BY f.vehicle_id, f.free
            LIMIT \(limit)
            """).map { AvailableVehicle(vehicle: try $0.vehicle(), start: try $0.decode(Instant.self, "start")) }
    }
}
