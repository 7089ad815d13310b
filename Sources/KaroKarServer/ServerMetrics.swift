import IdentityContext
public import KaroKarKernel
public import KaroKarPostgres
public import KaroKarRPCServer
import Logging
public import Prometheus
import Synchronization

/// The process's metrics, in Prometheus' text exposition format at the admin server's `/metrics`
/// (README, "Operations"). The RPC server's series (``RPCServerMetrics``) are recorded as calls
/// happen; the pool's and the password hasher's are read at each scrape; the event relay's
/// (outbox backlog, consumer lag, dead letters) are read from the database every
/// ``OperationsOptions/metricsSampleInterval`` by ``sampleEvents(_:)``.
///
/// Each application has its own registry (tests run several in one process); nothing is
/// bootstrapped globally.
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let rpc: RPCServerMetrics

    let poolSize: Gauge
    let poolInUse: Gauge
    let poolIdle: Gauge
    let poolConnecting: Gauge
    let poolWaiters: Gauge
    let poolAcquires: Prometheus.Counter
    let poolAcquireWait: Prometheus.Counter
    let poolOpened: Prometheus.Counter
    let poolClosed: Prometheus.Counter
    /// The pool's totals at the last scrape: counters only go up by the difference.
    private let lastPool = Mutex<PostgresPool.Metrics?>(nil)

    let hashesAdmitted: Gauge
    let hashCapacity: Gauge

    let outboxHead: Gauge
    let eventSamples: Prometheus.Counter
    let eventSampleFailures: Prometheus.Counter
    private let consumers = Mutex<[String: ConsumerGauges]>([:])

    struct ConsumerGauges: Sendable {
        let pending: Gauge
        let dead: Gauge
        let oldestPendingAge: Gauge
        let lag: Gauge
    }

    public init() {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        self.registry = registry
        rpc = RPCServerMetrics(factory: factory)
        func pool(_ state: String) -> Gauge {
            registry.makeGauge(name: "karokar_db_pool_connections", labels: [("state", state)], help: "pool connections by state")
        }
        poolSize = registry.makeGauge(name: "karokar_db_pool_size", help: "largest number of connections the pool opens")
        poolInUse = pool("in_use")
        poolIdle = pool("idle")
        poolConnecting = pool("connecting")
        poolWaiters = registry.makeGauge(name: "karokar_db_pool_waiters", help: "calls waiting for a pool connection")
        poolAcquires = registry.makeCounter(name: "karokar_db_pool_acquires_total", help: "connections handed out")
        poolAcquireWait = registry.makeCounter(
            name: "karokar_db_pool_acquire_wait_seconds_total", help: "time spent waiting for a pool connection (divide by acquires for the mean)"
        )
        poolOpened = registry.makeCounter(name: "karokar_db_pool_connections_opened_total", help: "database connections opened")
        poolClosed = registry.makeCounter(name: "karokar_db_pool_connections_closed_total", help: "database connections closed")
        hashesAdmitted = registry.makeGauge(name: "karokar_password_hash_queue", help: "password hashes running or waiting")
        hashCapacity = registry.makeGauge(name: "karokar_password_hash_capacity", help: "password hashes that may run or wait before refusals")
        outboxHead = registry.makeGauge(name: "karokar_events_outbox_head", help: "the last sequence number taken in the outbox")
        eventSamples = registry.makeCounter(name: "karokar_events_samples_total", help: "reads of the consumers' lag")
        eventSampleFailures = registry.makeCounter(
            name: "karokar_events_sample_failures_total", help: "reads of the consumers' lag that failed (the gauges keep their last values)"
        )
    }

    /// The pool's state now.
    func samplePool(_ pool: PostgresPool) {
        let now = pool.metrics
        poolSize.set(Double(pool.configuration.maximumConnections))
        poolInUse.set(Double(now.inUse))
        poolIdle.set(Double(now.idle))
        poolConnecting.set(Double(now.connecting))
        poolWaiters.set(Double(now.waiting))
        let before = lastPool.withLock { last in
            defer { last = now }
            return last
        }
        poolAcquires.increment(by: Int64(max(0, now.leases - (before?.leases ?? 0))))
        poolOpened.increment(by: Int64(max(0, now.connectionsOpened - (before?.connectionsOpened ?? 0))))
        poolClosed.increment(by: Int64(max(0, now.connectionsClosed - (before?.connectionsClosed ?? 0))))
        let waited = max(0, now.totalWaitMicroseconds - (before?.totalWaitMicroseconds ?? 0))
        if waited > 0 { poolAcquireWait.increment(by: Double(waited) / 1_000_000) }
    }

    func samplePasswordHashing(_ identity: Identity) {
        let queue = identity.passwordHashQueue
        hashesAdmitted.set(Double(queue.admitted))
        hashCapacity.set(Double(queue.capacity))
    }

    /// Per consumer: deliveries pending and dead, the oldest pending one's age, and how far its
    /// cursor is behind the outbox head.
    public func sampleEvents(_ lags: [EventConsumers.Lag]) {
        eventSamples.increment()
        if let head = lags.map(\.head).max() { outboxHead.set(Double(head)) }
        for lag in lags {
            let gauges = consumers.withLock { consumers in
                if let gauges = consumers[lag.consumer] { return gauges }
                let labels = [("consumer", lag.consumer)]
                let gauges = ConsumerGauges(
                    pending: registry.makeGauge(name: "karokar_events_pending", labels: labels, help: "deliveries waiting (due, retrying or leased)"),
                    dead: registry.makeGauge(name: "karokar_events_dead_letters", labels: labels, help: "deliveries that exhausted their attempts"),
                    oldestPendingAge: registry.makeGauge(
                        name: "karokar_events_oldest_pending_age_seconds", labels: labels, help: "age of the oldest event not yet handled"
                    ),
                    lag: registry.makeGauge(
                        name: "karokar_events_consumer_lag", labels: labels, help: "outbox events past the consumer's cursor, not all fanned out to it"
                    )
                )
                consumers[lag.consumer] = gauges
                return gauges
            }
            gauges.pending.set(Double(lag.pending))
            gauges.dead.set(Double(lag.dead))
            gauges.oldestPendingAge.set(lag.oldestPendingAgeSeconds)
            gauges.lag.set(Double(max(0, lag.head - lag.position)))
        }
    }

    func sampleFailed() {
        eventSampleFailures.increment()
    }

    /// The exposition text, after reading what is read at scrape time: the registry's series,
    /// the RPC server's per-call series (summed from their shards now), and the pool's
    /// acquire-time histogram.
    func exposition(pool: PostgresPool?, identity: Identity?) -> [UInt8] {
        if let pool { samplePool(pool) }
        if let identity { samplePasswordHashing(identity) }
        var buffer = registry.emitToBuffer()
        rpc.emit(into: &buffer)
        if let pool { Self.emitAcquireHistogram(pool.metrics, into: &buffer) }
        return buffer
    }

    /// `karokar_db_pool_acquire_duration_seconds`: how long leases waited for a connection.
    static func emitAcquireHistogram(_ metrics: PostgresPool.Metrics, into buffer: inout [UInt8]) {
        let name = "karokar_db_pool_acquire_duration_seconds"
        var text = "# HELP \(name) time a call waited for a pool connection\n# TYPE \(name) histogram\n"
        var cumulative = 0
        for (index, count) in metrics.acquireWaitCounts.enumerated() {
            cumulative += count
            let bound = index < PostgresPool.acquireWaitBounds.count ? seconds(PostgresPool.acquireWaitBounds[index]) : "+Inf"
            text += "\(name)_bucket{le=\"\(bound)\"} \(cumulative)\n"
        }
        let micros = metrics.totalWaitMicroseconds
        text += "\(name)_sum \(micros / 1_000_000).\(String(repeating: "0", count: 6 - String(micros % 1_000_000).count))\(micros % 1_000_000)\n"
        text += "\(name)_count \(cumulative)\n"
        buffer.append(contentsOf: text.utf8)
    }

    private static func seconds(_ duration: Duration) -> String {
        let nanoseconds = duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        var fraction = String(nanoseconds % 1_000_000_000)
        fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return fraction.isEmpty ? "\(nanoseconds / 1_000_000_000)" : "\(nanoseconds / 1_000_000_000).\(fraction)"
    }
}

/// Reads the consumers' lag every interval into ``ServerMetrics``.
struct EventMetricsSampler: Sendable {
    let pool: PostgresPool
    let metrics: ServerMetrics
    let interval: Duration
    let logger: Logger

    func run() async {
        var failing = false
        while !Task.isCancelled {
            do {
                metrics.sampleEvents(try await EventConsumers(pool: pool).lag())
                failing = false
            } catch {
                guard !Task.isCancelled else { return }
                metrics.sampleFailed()
                if !failing { logger.debug("cannot read the event consumers' lag for metrics", metadata: ["error": "\(error)"]) }
                failing = true
            }
            try? await Task.sleep(for: interval)
        }
    }
}
