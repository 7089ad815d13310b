/// The connection pool's bookkeeping, as a pure value: events in, actions out. No I/O, no clocks,
/// no locks; ``PostgresPool`` runs it under a lock and performs the actions.
///
/// `Connection` is generic so tests drive the machine with plain integers.
struct PoolStateMachine<Connection> {
    enum LeaseAction {
        /// Hand over this idle connection.
        case use(Connection)
        /// Queue the waiter; also open a new connection.
        case waitAndConnect
        /// Queue the waiter; capacity is in use or already being connected.
        case wait
        case fail(PostgresError)
    }

    enum ReturnAction {
        case handOver(Connection, waiter: Int)
        case keepIdle
        /// Close the connection; if `connectFor` is set, open a replacement for that waiter.
        case close(Connection, connectNew: Bool)
    }

    enum ConnectedAction {
        case handOver(Connection, waiter: Int)
        case keepIdle
    }

    enum FailedAction {
        /// Waiters remain: try again after the backoff (milliseconds).
        case retry(afterMilliseconds: Int)
        case none
    }

    let maximumConnections: Int
    private(set) var idle: [Connection] = []
    private(set) var leased = 0
    private(set) var connecting = 0
    private(set) var waiters: [Int] = []
    private(set) var closed = false
    private(set) var consecutiveFailures = 0

    init(maximumConnections: Int) {
        precondition(maximumConnections > 0)
        self.maximumConnections = maximumConnections
    }

    var total: Int { idle.count + leased + connecting }

    mutating func lease(waiter: Int) -> LeaseAction {
        guard !closed else { return .fail(PostgresError(code: .connectionFailure, serverMessage: "the pool is closed")) }
        if waiters.isEmpty, let connection = idle.popLast() {
            leased += 1
            return .use(connection)
        }
        waiters.append(waiter)
        // While attempts fail, reconnection is paced by connectFailed()'s backoff: start one only
        // when no attempt is under way.
        if total < maximumConnections, connecting < waiters.count, consecutiveFailures == 0 || connecting == 0 {
            connecting += 1
            return .waitAndConnect
        }
        return .wait
    }

    /// A waiter gave up (timeout or cancellation). False when it was already served.
    mutating func abandon(waiter: Int) -> Bool {
        guard let index = waiters.firstIndex(of: waiter) else { return false }
        waiters.remove(at: index)
        return true
    }

    mutating func giveBack(_ connection: Connection, reusable: Bool) -> ReturnAction {
        leased -= 1
        guard reusable, !closed else {
            let replace = !closed && !waiters.isEmpty
            if replace { connecting += 1 }
            return .close(connection, connectNew: replace)
        }
        if !waiters.isEmpty {
            leased += 1
            return .handOver(connection, waiter: waiters.removeFirst())
        }
        idle.append(connection)
        return .keepIdle
    }

    mutating func connected(_ connection: Connection) -> ConnectedAction {
        connecting -= 1
        consecutiveFailures = 0
        if !waiters.isEmpty {
            leased += 1
            return .handOver(connection, waiter: waiters.removeFirst())
        }
        idle.append(connection)
        return .keepIdle
    }

    mutating func connectFailed() -> FailedAction {
        connecting -= 1
        consecutiveFailures += 1
        guard !closed, !waiters.isEmpty else { return .none }
        connecting += 1
        return .retry(afterMilliseconds: min(50 << min(consecutiveFailures - 1, 6), 2_000))
    }

    /// Closing: idle connections to close now; leased ones close when given back.
    mutating func close() -> (idle: [Connection], waiters: [Int]) {
        closed = true
        defer { idle = []; waiters = [] }
        return (idle, waiters)
    }
}

extension PoolStateMachine: Sendable where Connection: Sendable {}
