import KaroKarPostgres
import Logging
import Synchronization

/// Checks the database with `SELECT 1` every ``OperationsOptions/healthCheckInterval`` and
/// reports what it finds to ``HealthService`` (NOT_SERVING, and `/readyz` failing, while it is
/// unreachable; both recover on the next good check, without a restart).
///
/// A full pool is not an outage: a probe that waits out the pool's acquire timeout because every
/// connection is busy counts the database as available.
struct DatabaseProbe: Sendable {
    let pool: PostgresPool
    let health: HealthService
    let interval: Duration
    let logger: Logger

    /// Runs until the task is cancelled.
    func run() async {
        var available = true
        while !Task.isCancelled {
            let now = await check()
            guard !Task.isCancelled else { return }
            if now != available {
                if now {
                    logger.notice("the database answers again; serving")
                } else {
                    logger.warning("the database does not answer; reporting NOT_SERVING until it does")
                }
                available = now
            }
            health.setDatabaseAvailable(now)
            try? await Task.sleep(for: interval)
        }
    }

    /// One check, bounded by the pool's acquire timeout plus a second (a query that hangs, as
    /// behind a network partition, is an outage too). The check's query runs in a task of its
    /// own that the probe does not wait for past the bound: a statement stuck on a dead
    /// connection cannot stall the probe, and no second one starts while it is stuck.
    func check() async -> Bool {
        let timeout = pool.configuration.acquireTimeout + .seconds(1)
        let pool = self.pool
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let answer = ProbeAnswer(continuation)
            guard let query = inFlight.start({
                let available: Bool
                do {
                    try await pool.query("SELECT 1")
                    available = true
                } catch let error as PostgresError where error.category == .poolExhausted {
                    // Every connection busy is load, not an outage; a pool that times out with
                    // connections free is one that cannot connect.
                    available = pool.metrics.inUse >= pool.configuration.maximumConnections
                } catch {
                    available = false
                }
                answer.resume(available)
            }) else {
                answer.resume(false)  // the previous check's query is still stuck
                return
            }
            Task {
                try? await Task.sleep(for: timeout)
                if answer.resume(false) { query.cancel() }
            }
        }
    }

    let inFlight = InFlightQuery()
}

/// The probe's one query at a time.
final class InFlightQuery: Sendable {
    private let running = Mutex(false)

    /// Starts `body` in a task unless one is still running.
    func start(_ body: @escaping @Sendable () async -> Void) -> Task<Void, Never>? {
        guard running.withLock({ running in
            if running { return false }
            running = true
            return true
        }) else { return nil }
        return Task {
            await body()
            running.withLock { $0 = false }
        }
    }
}

/// Resumes a continuation once, with whichever answer comes first.
final class ProbeAnswer: Sendable {
    private let continuation: Mutex<CheckedContinuation<Bool, Never>?>

    init(_ continuation: CheckedContinuation<Bool, Never>) {
        self.continuation = Mutex(continuation)
    }

    /// True if this call resumed it.
    @discardableResult
    func resume(_ value: Bool) -> Bool {
        guard let continuation = continuation.withLock({ $0.take() }) else { return false }
        continuation.resume(returning: value)
        return true
    }
}
