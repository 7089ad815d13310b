import ArgumentParser
import Foundation
import KaroKarKernel
import KaroKarMessages
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
    @Flag(help: "Run the tasks on the pool's I/O thread (PostgresPool.executor) instead of the cooperative pool.")
    var onPoolExecutor = false

    func run() async throws {
        var configuration = PostgresPool.Configuration(connectionString: databaseURL)
        configuration.maximumConnections = concurrency
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
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        return try await withThrowingTaskGroup(of: LatencyHistogram.self) { group in
            for _ in 0..<concurrency {
                group.addTask(executorPreference: onPoolExecutor ? pool.executor : nil) {
                    var histogram = LatencyHistogram()
                    var random = FastRandom(seed: UInt64.random(in: 1...UInt64.max))  // like pgbench's own PRNG, no syscall per key
                    while ContinuousClock.now < deadline {
                        let started = ContinuousClock.now
                        let aid = Int64.random(in: 1...accounts, using: &random)
                        _ = try await pool.query("SELECT abalance FROM pgbench_accounts WHERE aid = \(aid)")
                        histogram.record(nanoseconds: (ContinuousClock.now - started).nanoseconds)
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

    func run() async throws {
        var configuration = PostgresPool.Configuration(connectionString: databaseURL)
        configuration.maximumConnections = publishers + consumers + 2
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

extension Duration {
    var nanoseconds: UInt64 {
        UInt64(max(0, components.seconds)) * 1_000_000_000 + UInt64(max(0, components.attoseconds / 1_000_000_000))
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
