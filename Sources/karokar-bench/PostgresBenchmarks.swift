import NIOCore
import ArgumentParser
import Foundation
import KaroKarKernel
import KaroKarMessages
import FleetContext
import KaroKarPostgres
import Logging

/// `karokar-bench pool`: a trivial query through the project's libpq pool from N concurrent tasks,
/// the Swift side of `pgbench -S` (same statement, same random keys, same client count). Run it
/// against a database that `pgbench -i` initialized (Deploy/bench-postgres.sh does both).
struct PoolBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pool", abstract: "pgbench -S's SELECT through the PostgreSQL pool, from concurrent tasks."
    )

    @Option(help: "libpq connection string or URI of a pgbench-initialized database.") var databaseURL: String
    @Option(help: "Concurrent tasks (and pool connections), like pgbench -c.") var concurrency = 16
    @Option(help: "Measured seconds.") var duration = 10.0
    @Option(help: "Warm-up seconds, not measured.") var warmup = 2.0
    @Option(help: "Report: text or json.") var report = "text"
    @Flag(help: "Run the tasks on the pool's I/O threads (PostgresPool.executor) instead of the cooperative pool.")
    var onPoolExecutor = false
    @Option(help: "The pool's I/O threads (default: PostgresPool.Configuration's).") var ioThreads: Int?

    func run() async throws {
        var configuration = PostgresPool.Configuration(connectionString: databaseURL)
        configuration.maximumConnections = concurrency
        if let ioThreads { configuration.ioThreads = ioThreads }
        let pool = PostgresPool(configuration: configuration)
        let accounts = try await pool.query("SELECT count(*)::int8 AS n FROM pgbench_accounts").single().decode(Int64.self, "n")
        _ = try await measure(pool, accounts: accounts, seconds: warmup)
        let cpuBefore = ProcessCPU.seconds()
        let result = try await measure(pool, accounts: accounts, seconds: duration)
        let cpu = ProcessCPU.seconds() - cpuBefore
        await pool.close()
        let rate = Double(result.count) / duration
        print(DatabaseReport(
            name: "pool", format: report, figures: [
                ("queries_per_second", rate), ("p50_ms", result.ms(0.5)), ("p99_ms", result.ms(0.99)),
                ("client_cpu_us_per_query", cpu * 1e6 / Double(max(result.count, 1))),
            ]
        ).render())
    }

    private func measure(_ pool: PostgresPool, accounts: Int64, seconds: Double) async throws -> LatencyHistogram {
        try await ClosedLoop.run(tasks: concurrency, seconds: seconds, on: onPoolExecutor ? pool.executor : nil) { random in
            let aid = Int64.random(in: 1...accounts, using: &random)
            _ = try await pool.query("SELECT abalance FROM pgbench_accounts WHERE aid = \(aid)")
        }
    }
}

/// `karokar-bench outbox`: events committed by concurrent publishers, delivered after commit by the
/// event relay to consumers in this process; reports events/s end to end and the lag from commit
/// to handling (p50/p99).
struct OutboxBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outbox", abstract: "Throughput and lag of the event outbox, commit to consumer."
    )

    @Option(help: "libpq connection string or URI of a database (the events schema is migrated into it).") var databaseURL: String
    @Option(help: "Concurrent publishing tasks, one event per transaction.") var publishers = 8
    @Option(help: "After-commit consumers (each gets every event).") var consumers = 2
    @Option(help: "Publishing seconds, measured.") var duration = 10.0
    @Option(help: "Publishing seconds before measuring (connections, prepared statements), not measured.") var warmup = 2.0
    @Option(help: "Target events per second over all publishers (0: as fast as they go).") var rate = 0.0
    @Option(help: "Report: text or json.") var report = "text"
    @Option(help: "The pool's I/O threads (default: PostgresPool.Configuration's).") var ioThreads: Int?

    func run() async throws {
        var configuration = PostgresPool.Configuration(connectionString: databaseURL)
        configuration.maximumConnections = publishers + consumers + 2
        if let ioThreads { configuration.ioThreads = ioThreads }
        let pool = PostgresPool(configuration: configuration)
        try await MigrationRunner.migrate(KernelMigrations.platform, pool: pool)
        let bus = EventBus(pool: pool)
        let lag = LagRecorder()
        for index in 0..<consumers {
            bus.consume("bench.*", as: "bench_consumer_\(index)") { event, _ in lag.record(event) }
        }
        var logger = Logger(label: "outbox-bench")
        logger.logLevel = .warning
        let relay = EventRelay(bus: bus, logger: logger)
        let published = try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                await relay.run()
                return 0
            }
            let warmed = try await publish(bus, seconds: warmup)
            try await waitForDrain(pool, expected: warmed * consumers, lag: lag)
            lag.reset()
            let count = try await publish(bus, seconds: duration)
            try await waitForDrain(pool, expected: count * consumers, lag: lag)
            group.cancelAll()
            return count
        }
        let window = lag.window
        await pool.close()
        let delivered = lag.histogram.count
        print(DatabaseReport(name: "outbox", format: report, figures: [
            ("events_published", Double(published)), ("deliveries", Double(delivered)),
            ("published_per_second", Double(published) / duration),
            ("delivered_events_per_second", Double(delivered) / Double(consumers) / max(window, 0.001)),
            ("lag_p50_ms", lag.histogram.ms(0.5)), ("lag_p99_ms", lag.histogram.ms(0.99)), ("lag_max_ms", lag.histogram.ms(1)),
        ]).render())
    }

    private func publish(_ bus: EventBus, seconds: Double) async throws -> Int {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        let interval = rate > 0 ? Duration.nanoseconds(Int64(1e9 * Double(publishers) / rate)) : .zero
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for publisher in 0..<publishers {
                group.addTask {
                    var count = 0
                    var next = ContinuousClock.now
                    while ContinuousClock.now < deadline {
                        let draft = EventDraft(
                            "bench.published", aggregateType: "bench", aggregateID: "p\(publisher)-\(count % 64)", aggregateVersion: Int64(count),
                            payload: .vehicleRegistered(EventsV1.VehicleRegistered(vehicleId: "bench", make: "bench"))
                        )
                        try await bus.transaction(.system()) { try await $0.publish(draft) }
                        count += 1
                        if interval > .zero {
                            next += interval
                            try await Task.sleep(until: next, clock: .continuous)
                        }
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
    }

    private func waitForDrain(_ pool: PostgresPool, expected: Int, lag: LagRecorder) async throws {
        let started = ContinuousClock.now
        while lag.histogram.count < expected, ContinuousClock.now - started < .seconds(120) {
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// Lag from an event's `occurred_at` (stamped just before its transaction commits) to its handling.
final class LagRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded = LatencyHistogram()
    private var first: Date?
    private var last: Date?

    func record(_ event: EventsV1.EventEnvelope) {
        let now = Date()
        let occurred = Double(event.occurredAt?.seconds ?? 0) + Double(event.occurredAt?.nanos ?? 0) / 1e9
        let nanoseconds = UInt64(max(0, (now.timeIntervalSince1970 - occurred) * 1e9))
        lock.withLock {
            recorded.record(nanoseconds: nanoseconds)
            first = first ?? now
            last = now
        }
    }

    var histogram: LatencyHistogram { lock.withLock { recorded } }

    func reset() {
        lock.withLock {
            recorded = LatencyHistogram()
            first = nil
            last = nil
        }
    }

    /// Seconds from the first delivery to the last.
    var window: Double {
        lock.withLock { (last ?? Date()).timeIntervalSince(first ?? Date()) }
    }
}

extension LatencyHistogram {
    func ms(_ quantile: Double) -> Double {
        Double(value(atQuantile: quantile)) / 1e6
    }
}

/// Process CPU time (user + system) in seconds.
enum ProcessCPU {
    static func seconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}

/// A flat list of named figures, as text lines or one JSON object.
struct DatabaseReport {
    let name: String
    let format: String
    let figures: [(String, Double)]

    func render() -> String {
        if format == "json" {
            return "{" + (["\"benchmark\": \"\(name)\""] + figures.map { "\"\($0.0)\": \(String(format: "%.3f", $0.1))" }).joined(separator: ", ") + "}"
        }
        return figures.map { "\($0.0.padding(toLength: 30, withPad: " ", startingAt: 0)) \(String(format: "%.3f", $0.1))" }.joined(separator: "\n")
    }
}

/// xorshift64*: cheap keys for load, no system call per value.
struct FastRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed | 1
    }

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 2_685_821_657_736_338_717
    }
}

/// `karokar-bench reservations`: reservations through the availability engine, the way the
/// Booking context makes them: a transaction publishing `booking.approved`, to which Fleet reacts
/// in the same transaction (lock the vehicle, check it, place the RESERVED record, publish
/// `availability.created`). Compare with `pgbench` running the same statements
/// (Deploy/bench/engine-reservation.pgbench); Deploy/bench-fleet.sh runs both.
struct ReservationBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reservations", abstract: "Reservations through the Fleet engine (booking.approved), from concurrent tasks."
    )

    @Option(help: "libpq connection string or URI of an empty database (Fleet's schema is migrated into it).") var databaseURL: String
    @Option(help: "Concurrent tasks (and pool connections), like pgbench -c.") var concurrency = 16
    @Option(help: "Vehicles the reservations are spread over.") var vehicles = 10_000
    @Option(help: "Measured seconds.") var duration = 10.0
    @Option(help: "Warm-up seconds, not measured.") var warmup = 2.0
    @Option(help: "Report: text or json.") var report = "text"
    @Flag(help: "Run the tasks on the pool's I/O thread (PostgresPool.executor).") var onPoolExecutor = false

    func run() async throws {
        var configuration = PostgresPool.Configuration(connectionString: databaseURL)
        configuration.maximumConnections = concurrency
        let pool = PostgresPool(configuration: configuration)
        try await MigrationRunner.migrate(KernelMigrations.platform + Fleet.migrations, pool: pool)
        let bus = EventBus(pool: pool)
        var logger = Logger(label: "reservation-bench")
        logger.logLevel = .warning
        _ = Fleet(environment: ContextEnvironment(bus: bus, pages: PageTokens(), logger: logger))
        let vendor = try await ReservationFixture.seed(bus: bus, vehicles: vehicles)
        // After every slot an earlier run on this database booked, so none conflicts.
        let slots = SlotCounter(after: try await ReservationFixture.lastBookedSlot(bus.pool))
        _ = try await measure(bus, vendor: vendor, slots: slots, seconds: warmup)
        let cpuBefore = ProcessCPU.seconds()
        let result = try await measure(bus, vendor: vendor, slots: slots, seconds: duration)
        let cpu = ProcessCPU.seconds() - cpuBefore
        await pool.close()
        print(DatabaseReport(name: "reservations", format: report, figures: [
            ("reservations", Double(result.count)), ("reservations_per_second", Double(result.count) / duration),
            ("p50_ms", result.ms(0.5)), ("p99_ms", result.ms(0.99)),
            ("client_cpu_us_per_reservation", cpu * 1e6 / Double(max(result.count, 1))),
        ]).render())
    }

    private func measure(_ bus: EventBus, vendor: UUID, slots: SlotCounter, seconds: Double) async throws -> LatencyHistogram {
        let vehicles = self.vehicles
        return try await ClosedLoop.run(tasks: concurrency, seconds: seconds, on: onPoolExecutor ? bus.pool.executor : nil) { random in
            let vehicle = ReservationFixture.vehicleID(Int.random(in: 1...vehicles, using: &random))
            let start = ReservationFixture.firstSlot + Int64(slots.next()) * 3600
            let booking = UUID.random().lowercasedString
            try await bus.transaction(.system()) { work in
                try await work.publish(EventDraft(
                    "booking.approved", aggregateType: "booking", aggregateID: booking,
                    payload: .bookingApproved(EventsV1.BookingApproved(
                        bookingId: booking, vehicleId: vehicle, vendorOrganizationId: vendor.lowercasedString,
                        period: CommonV1.Period(start: .init(seconds: start), end: .init(seconds: start + 3600))
                    ))
                ))
            }
        }
    }
}

/// `tasks` concurrent tasks repeating `operation` until `seconds` have passed, each timing its
/// own calls; the latencies merged. Each task has its own fast generator (like pgbench's PRNG, no
/// system call per key).
enum ClosedLoop {
    static func run(
        tasks: Int, seconds: Double, on executor: (any TaskExecutor)?,
        _ operation: @escaping @Sendable (inout FastRandom) async throws -> Void
    ) async throws -> LatencyHistogram {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        return try await withThrowingTaskGroup(of: LatencyHistogram.self) { group in
            for _ in 0..<tasks {
                group.addTask(executorPreference: executor) {
                    var histogram = LatencyHistogram()
                    var random = FastRandom(seed: UInt64.random(in: 1...UInt64.max))
                    while ContinuousClock.now < deadline {
                        let started = ContinuousClock.now
                        try await operation(&random)
                        histogram.record(nanoseconds: UInt64(clamping: TimeAmount(ContinuousClock.now - started).nanoseconds))
                    }
                    return histogram
                }
            }
            var total = LatencyHistogram()
            for try await partial in group { total.merge(partial) }
            return total
        }
    }
}

/// The engine benchmark's data: one active vendor (as Fleet learns of it, from its events) and
/// `vehicles` active vehicles with ids pgbench can compute (…-1000000000NN).
enum ReservationFixture {
    static func vehicleID(_ number: Int) -> String {
        "00000000-0000-4000-8000-\(100_000_000_000 + number)"
    }

    /// Seeds an empty database; a database seeded before (with as many vehicles) is reused as it is.
    /// Unix seconds of slot 0; slot n is the hour n hours later.
    static let firstSlot: Int64 = 2_000_000_000

    /// The last slot a reservation on this database holds (-1 when none does).
    static func lastBookedSlot(_ pool: PostgresPool) async throws -> Int {
        let row = try await pool.query("""
            SELECT coalesce(max(extract(epoch FROM upper(period)))::bigint, 0) AS last FROM fleet.availability WHERE source_type = 'BOOKING'
            """).single()
        let last = try row.decode(Int64.self, "last")
        return last < firstSlot ? -1 : Int((last - firstSlot) / 3600)
    }

    static func seed(bus: EventBus, vehicles: Int) async throws -> UUID {
        let existing = try await bus.pool.query("SELECT organization_id, count(*) AS n FROM fleet.vehicle GROUP BY organization_id")
        if let row = existing.first(where: { _ in true }) {
            guard existing.count == 1, try row.decode(Int.self, "n") == vehicles else {
                throw ValidationError("the database holds other vehicles than this benchmark's \(vehicles); give it an empty database")
            }
            return try row.decode(UUID.self, "organization_id")
        }
        let vendor = UUID.random()
        let id = vendor.lowercasedString
        try await bus.transaction(.system()) { work in
            for (name, payload): (String, EventsV1.EventEnvelope.PayloadOneof) in [
                ("organization.registered", .organizationRegistered(EventsV1.OrganizationRegistered(organizationId: id, name: "Bench", organizationType: .vendor))),
                ("organization.approved", .organizationApproved(EventsV1.OrganizationApproved(organizationId: id, organizationType: .vendor))),
            ] {
                try await work.publish(EventDraft(name, aggregateType: "organization", aggregateID: id, payload: payload))
            }
            try await work.query("""
                INSERT INTO fleet.vehicle (id, organization_id, ownership_type, make, model, year, license_plate, status)
                SELECT ('00000000-0000-4000-8000-' || (100000000000 + g))::uuid, \(vendor), 'VENDOR_OWNED', 'Tata', 'Alpha', 2022, 'RES' || g, 'ACTIVE'
                FROM generate_series(1, \(vehicles)) AS g
                """)
        }
        try await bus.pool.query("ANALYZE fleet.vehicle")
        return vendor
    }
}

/// Distinct one-hour slots, shared by all tasks, so no reservation ever conflicts.
final class SlotCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int

    init(after last: Int) {
        value = last
    }

    func next() -> Int {
        lock.withLock {
            value += 1
            return value
        }
    }
}
