public import Tracing
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A bounded pool of libpq connections with fair (FIFO) waiting, a wait timeout, replacement of
/// broken connections, reconnection with backoff, and metrics.
public final class PostgresPool: Sendable {
    public struct Configuration: Sendable {
        /// A libpq connection string or `postgresql://` URI.
        public var connectionString: String
        public var maximumConnections = 10
        /// Longest a caller waits for a connection before `poolTimeout`.
        public var acquireTimeout: Duration = .seconds(5)
        /// An idle connection unused for longer is checked with `SELECT 1` before it is handed out.
        public var healthCheckAfter: Duration = .seconds(30)
        /// Threads that wait for the connections' sockets and run the tasks that prefer
        /// ``PostgresPool/executor`` (like `pgbench -j`). Two by default (one on a one-core
        /// machine): while the kernel runs a woken backend, the other loop goes on; on two cores
        /// that made the pool benchmark about 5 points faster (see Deploy/bench-postgres.sh).
        public var ioThreads = min(2, System.coreCount)
        /// Spans of the statements run inside a span (a traced call); nil: none (the default).
        public var tracer: (any Tracer)?

        public init(connectionString: String) {
            self.connectionString = connectionString
        }
    }

    /// A snapshot for metrics and tests.
    public struct Metrics: Sendable, Hashable {
        public var inUse: Int
        public var idle: Int
        public var connecting: Int
        public var waiting: Int
        public var leases: Int
        public var totalWaitMicroseconds: Int64
        public var connectionsOpened: Int
        public var connectionsClosed: Int
        /// Leases by how long they waited, not cumulative: `acquireWaitBounds[i]` is bucket i's
        /// upper bound, the last bucket is beyond them all. A lease of an idle connection waits 0.
        public var acquireWaitCounts: [Int] = []
    }

    /// The upper bounds of ``Metrics/acquireWaitCounts``' buckets.
    public static let acquireWaitBounds: [Duration] = [
        .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50),
        .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5),
    ]

    private struct State {
        var machine: PoolStateMachine<PostgresConnection>
        var continuations: [Int: CheckedContinuation<PostgresConnection, any Error>] = [:]
        var nextWaiter = 0
        var nextConnectionID = 0
        var leases = 0
        var totalWait: Duration = .zero
        var waitCounts = Array(repeating: 0, count: PostgresPool.acquireWaitBounds.count + 1)
        var opened = 0
        var closedCount = 0
        var lastConnectError: PostgresError?
        /// Waiters' deadlines in the order they began to wait, which is deadline order (one
        /// timeout for all); ``deadlinesHead`` is the first not yet looked at. Served waiters'
        /// entries are dropped lazily (see ``PostgresPool/expireWaiters()``).
        var deadlines: [(waiter: Int, deadline: NIODeadline)] = []
        var deadlinesHead = 0
        /// One timer for all waiters, armed for the oldest one's deadline while any waits.
        var deadlineTimerArmed = false

        /// Drops the entries of waiters already served from the front; true if one still waits.
        mutating func dropServedDeadlines() -> Bool {
            while deadlinesHead < deadlines.count, continuations[deadlines[deadlinesHead].waiter] == nil {
                deadlinesHead += 1
            }
            if deadlinesHead > 64, deadlinesHead * 2 > deadlines.count {
                deadlines.removeFirst(deadlinesHead)
                deadlinesHead = 0
            }
            return deadlinesHead < deadlines.count
        }
    }

    public let configuration: Configuration
    /// Threads for connecting (libpq's connect blocks); queries never use them.
    let connector: BlockingExecutor
    let poller: SocketPoller
    private let state: NIOLockedValueBox<State>
    private let timers: any EventLoop

    public init(configuration: Configuration) {
        self.configuration = configuration
        self.connector = BlockingExecutor(threads: min(configuration.maximumConnections, 4))
        self.poller = SocketPoller(threads: configuration.ioThreads)
        self.state = NIOLockedValueBox(State(machine: PoolStateMachine(maximumConnections: configuration.maximumConnections)))
        self.timers = MultiThreadedEventLoopGroup.singleton.next()
    }

    /// The pool's I/O threads as a task executor: database-heavy work that prefers it
    /// (`withTaskExecutorPreference(pool.executor) { ... }`) runs where its replies arrive and
    /// saves a thread hand-off per statement. Keep CPU-heavy work off it.
    public var executor: any TaskExecutor { poller }

    public var metrics: Metrics {
        state.withLockedValue { state in
            Metrics(
                inUse: state.machine.leased, idle: state.machine.idle.count, connecting: state.machine.connecting,
                waiting: state.machine.waiters.count, leases: state.leases,
                totalWaitMicroseconds: Int64(state.totalWait.components.seconds * 1_000_000 + state.totalWait.components.attoseconds / 1_000_000_000_000),
                connectionsOpened: state.opened, connectionsClosed: state.closedCount, acquireWaitCounts: state.waitCounts
            )
        }
    }

    /// Why the last attempt to open a connection failed; nil once one succeeds (or before any
    /// failed). A pool timeout with this nil means the database is slow to accept, not refusing.
    public var lastConnectError: PostgresError? {
        state.withLockedValue { $0.lastConnectError }
    }

    // MARK: - Leasing

    /// Runs `body` with a connection of its own; the connection goes back to the pool afterwards
    /// (or is closed if it broke or was left inside a transaction).
    public func withConnection<R: Sendable>(_ body: (PostgresSession) async throws -> R) async throws -> R {
        let connection = try await lease()
        let session = PostgresSession(connection: connection, tracer: configuration.tracer)
        do {
            let result = try await body(session)
            giveBack(connection)
            return result
        } catch {
            giveBack(connection)
            throw error
        }
    }

    private func lease() async throws -> PostgresConnection {
        while true {
            let connection = try await leaseOnce()
            guard ContinuousClock.now - connection.lastUsed > configuration.healthCheckAfter else { return connection }
            let healthy = (try? await connection.execute("SELECT 1")) != nil
            if healthy { return connection }
            giveBack(connection, forceClose: true)
        }
    }

    private func leaseOnce() async throws -> PostgresConnection {
        // Fast path: an idle connection and nobody queued before us (FIFO stays fair).
        let idle = state.withLockedValue { state -> PostgresConnection? in
            guard !state.machine.closed, !state.machine.idle.isEmpty, state.machine.waiters.isEmpty else { return nil }
            state.nextWaiter += 1
            guard case .use(let connection) = state.machine.lease(waiter: state.nextWaiter) else {
                preconditionFailure("an idle connection with no waiters must be handed out")
            }
            state.leases += 1
            state.waitCounts[0] += 1
            return connection
        }
        if let idle { return idle }
        let started = ContinuousClock.now
        let waiter = state.withLockedValue { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        let connection: PostgresConnection = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let action = state.withLockedValue { state -> PoolStateMachine<PostgresConnection>.LeaseAction in
                    let action = state.machine.lease(waiter: waiter)
                    if case .use = action {} else if case .fail = action {} else { state.continuations[waiter] = continuation }
                    return action
                }
                switch action {
                case .use(let connection): continuation.resume(returning: connection)
                case .fail(let error): continuation.resume(throwing: error)
                case .waitAndConnect:
                    connect()
                    scheduleTimeout(waiter)
                case .wait:
                    scheduleTimeout(waiter)
                }
            }
        } onCancel: {
            abandon(waiter, error: CancellationError())
        }
        state.withLockedValue { state in
            let waited = ContinuousClock.now - started
            state.leases += 1
            state.totalWait += waited
            state.waitCounts[PostgresPool.acquireWaitBounds.firstIndex { waited <= $0 } ?? PostgresPool.acquireWaitBounds.count] += 1
        }
        return connection
    }

    /// Gives `waiter` its deadline. One timer serves every waiter (a timer per wait cost a
    /// cross-thread scheduling and a wake-up per waiting lease, about 5% of a busy server's CPU):
    /// it is armed only when none is, for the oldest waiter's deadline.
    private func scheduleTimeout(_ waiter: Int) {
        let deadline = NIODeadline.now() + TimeAmount(configuration.acquireTimeout)
        let arm = state.withLockedValue { state -> Bool in
            _ = state.dropServedDeadlines()
            state.deadlines.append((waiter, deadline))
            guard !state.deadlineTimerArmed else { return false }
            state.deadlineTimerArmed = true
            return true
        }
        if arm { armDeadlineTimer(at: deadline) }
    }

    private func armDeadlineTimer(at deadline: NIODeadline) {
        timers.scheduleTask(deadline: deadline) { [self] in expireWaiters() }
    }

    /// Fails every waiter whose deadline has passed, then re-arms the timer for the oldest one
    /// still waiting, if any.
    private func expireWaiters() {
        let now = NIODeadline.now()
        let (expired, next, reason) = state.withLockedValue { state -> ([Int], NIODeadline?, String) in
            var expired: [Int] = []
            while state.dropServedDeadlines(), state.deadlines[state.deadlinesHead].deadline <= now {
                expired.append(state.deadlines[state.deadlinesHead].waiter)
                state.deadlinesHead += 1
            }
            let next = state.dropServedDeadlines() ? state.deadlines[state.deadlinesHead].deadline : nil
            state.deadlineTimerArmed = next != nil
            let reason = state.lastConnectError.map { " (database unavailable: \($0.debugDescription))" } ?? ""
            return (expired, next, reason)
        }
        let timeout = configuration.acquireTimeout
        for waiter in expired {
            abandon(waiter, error: PostgresError(code: .poolTimeout, serverMessage: "no database connection free within \(timeout)\(reason)"))
        }
        if let next { armDeadlineTimer(at: next) }
    }

    private func abandon(_ waiter: Int, error: any Error) {
        let continuation = state.withLockedValue { state -> CheckedContinuation<PostgresConnection, any Error>? in
            guard state.machine.abandon(waiter: waiter) else { return nil }
            return state.continuations.removeValue(forKey: waiter)
        }
        continuation?.resume(throwing: error)
    }

    private func giveBack(_ connection: PostgresConnection, forceClose: Bool = false) {
        connection.lastUsed = .now
        let (action, continuation) = state.withLockedValue { state in
            let action = state.machine.giveBack(connection, reusable: !forceClose && connection.isReusable)
            if case .handOver(_, let waiter) = action {
                return (action, state.continuations.removeValue(forKey: waiter))
            }
            if case .close = action { state.closedCount += 1 }
            return (action, nil)
        }
        switch action {
        case .handOver(let connection, _): continuation?.resume(returning: connection)
        case .keepIdle: break
        case .close(_, let connectNew): if connectNew { connect() }
        }
    }

    // MARK: - Connecting

    private func connect(afterMilliseconds delay: Int = 0) {
        let id = state.withLockedValue { state -> Int in
            state.nextConnectionID += 1
            return state.nextConnectionID
        }
        let conninfo = configuration.connectionString
        let connector = self.connector
        let poller = self.poller
        timers.scheduleTask(in: .milliseconds(Int64(delay))) { [self] in
            // One attempt, on the blocking threads; the outcome goes back through the state machine.
            let attempt: EventLoopFuture<PostgresConnection> = timers.makeFutureWithTask {
                try await connector.run { try PostgresConnection.connect(conninfo, id: id, poller: poller, blocking: connector) }
            }
            attempt.whenComplete { [self] result in
                switch result {
                case .success(let connection): connected(connection)
                case .failure(let error): connectFailed(error)
                }
            }
        }
    }

    private func connected(_ connection: PostgresConnection) {
        let (action, continuation) = state.withLockedValue { state in
            state.opened += 1
            state.lastConnectError = nil
            let action = state.machine.connected(connection)
            if case .handOver(_, let waiter) = action {
                return (action, state.continuations.removeValue(forKey: waiter))
            }
            return (action, nil)
        }
        if case .handOver(let connection, _) = action {
            continuation?.resume(returning: connection)
        }
    }

    private func connectFailed(_ error: any Error) {
        let action = state.withLockedValue { state in
            state.lastConnectError = error as? PostgresError
            return state.machine.connectFailed()
        }
        if case .retry(let delay) = action {
            connect(afterMilliseconds: delay)
        }
    }

    /// Closes idle connections and fails waiters; leased connections close when given back.
    public func close() async {
        let (idle, continuations) = state.withLockedValue { state in
            let (idle, waiters) = state.machine.close()
            state.closedCount += idle.count
            return (idle, waiters.compactMap { state.continuations.removeValue(forKey: $0) })
        }
        for continuation in continuations {
            continuation.resume(throwing: PostgresError(code: .connectionFailure, serverMessage: "the pool is closed"))
        }
        _ = idle  // freed here by PQfinish in deinit
        await connector.shutdown()
        poller.shutdown()
    }
}
