import CLibPQ
import Glibc
import Synchronization

/// One libpq connection, owned: freed exactly once, in `deinit`. Connecting blocks (callers run
/// it on ``BlockingExecutor`` threads); queries use libpq's non-blocking API and wait for the
/// socket on the pool's ``SocketPoller``, so no thread blocks per query. Not thread-safe: the pool
/// leases it to one task at a time; only ``requestCancel()`` may be called from elsewhere.
final class PostgresConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    private let canceller: OpaquePointer?
    private let poller: SocketPoller
    /// Where `PQcancel`, which blocks, runs.
    private let blocking: BlockingExecutor
    private let socket: Int32
    private let cancelState = Mutex(CancelState())
    /// Prepared statements by SQL text: the name, and the column names of the last result (a
    /// prepared statement's result columns cannot change: PostgreSQL refuses to run it then).
    private var statements: [String: Prepared] = [:]
    /// A transaction's `BEGIN`, held back until its first statement so that both go out in one
    /// pipeline (one round trip instead of two); nil outside such a transaction or once sent.
    private var deferredBegin: String?
    /// Statements whose rows nobody reads (outbox appends), held back until the transaction's next
    /// statement or its COMMIT and sent in the same pipeline, in order.
    private var queued: [SQL] = []
    let id: Int
    /// When the pool last handed this connection back; used to decide on a health check.
    var lastUsed = ContinuousClock.now

    static let maximumPreparedStatements = 512

    /// Which statement a cancel request is for, so that it reaches that statement and no later one.
    private struct CancelState {
        /// Counts the statements (or pipelines) sent.
        var sent: UInt64 = 0
        /// `sent` as of the last statement whose results were all read.
        var completed: UInt64 = 0
        /// A `PQcancel` is on its way: the next statement waits until it has been delivered, so
        /// that it cannot cancel that statement instead.
        var cancelling = false
        var waiting: [UnsafeContinuation<Void, Never>] = []
    }

    private struct Prepared {
        let name: String
        var columns: [String] = []
    }

    /// Connects (blocking). `conninfo` is a libpq connection string or URI.
    static func connect(_ conninfo: String, id: Int, poller: SocketPoller, blocking: BlockingExecutor) throws -> PostgresConnection {
        // UTC and ISO dates make the text formats of PostgresTimestamp exact.
        let options = conninfo.contains("://")
            ? conninfo + (conninfo.contains("?") ? "&" : "?") + "options=-c%20TimeZone%3DUTC%20-c%20DateStyle%3DISO&application_name=karokar"
            : conninfo + " options='-c TimeZone=UTC -c DateStyle=ISO' application_name=karokar"
        guard var handle = PQconnectdb(options) else {
            throw PostgresError(code: .connectionFailure, serverMessage: "out of memory")
        }
        // pgbouncer refuses the `options` startup parameter (Deploy/pgbouncer.md): connect without
        // it and set the two settings instead; pgbouncer keeps them with the client's session.
        if PQstatus(handle) != CONNECTION_OK, String(cString: PQerrorMessage(handle)).contains("unsupported startup parameter") {
            PQfinish(handle)
            let plain = conninfo.contains("://")
                ? conninfo + (conninfo.contains("?") ? "&" : "?") + "application_name=karokar" : conninfo + " application_name=karokar"
            guard let retried = PQconnectdb(plain) else {
                throw PostgresError(code: .connectionFailure, serverMessage: "out of memory")
            }
            handle = retried
            if PQstatus(handle) == CONNECTION_OK, let result = PQexec(handle, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'") {
                let status = PQresultStatus(result)
                PQclear(result)
                if status != PGRES_COMMAND_OK {
                    let message = String(cString: PQerrorMessage(handle))
                    PQfinish(handle)
                    throw PostgresError(code: .connectionFailure, serverMessage: "cannot set TimeZone and DateStyle: \(message)")
                }
            }
        }
        guard PQstatus(handle) == CONNECTION_OK, PQsetnonblocking(handle, 1) == 0 else {
            let message = String(cString: PQerrorMessage(handle))
            PQfinish(handle)
            throw PostgresError(code: .connectionFailure, serverMessage: message)
        }
        return PostgresConnection(handle: handle, id: id, poller: poller, blocking: blocking)
    }

    private init(handle: OpaquePointer, id: Int, poller: SocketPoller, blocking: BlockingExecutor) {
        self.handle = handle
        self.canceller = PQgetCancel(handle)
        self.id = id
        self.poller = poller
        self.blocking = blocking
        self.socket = PQsocket(handle)
    }

    deinit {
        poller.forget(socket)
        if let canceller { PQfreeCancel(canceller) }
        PQfinish(handle)
    }

    /// Open, and not inside a transaction: fit to go back to the pool.
    var isReusable: Bool {
        deferredBegin == nil && queued.isEmpty && PQstatus(handle) == CONNECTION_OK && PQtransactionStatus(handle) == PQTRANS_IDLE
            && PQpipelineStatus(handle) == PQ_PIPELINE_OFF
    }

    // MARK: - Cancelling

    /// Asks the server to cancel the statement on its way or running on this connection; returns
    /// at once (thread-safe, never blocks: `PQcancel` runs on the blocking threads). The server
    /// ignores a cancel that reaches it before it has read the statement, so the request repeats,
    /// 10 ms after the first and doubling, until that statement ends (about 2.5 s at most). A
    /// statement that was not yet sent is cancelled as it goes out (``finish(cancellable:sending:)``).
    func requestCancel() {
        let target = cancelState.withLock { $0.sent }
        Task.detached { [self] in
            var delay = Duration.milliseconds(10)
            for _ in 0..<8 {
                guard (try? await blocking.run { self.sendCancel(for: target) }) == true else { return }
                try? await Task.sleep(for: delay)
                delay *= 2
            }
        }
    }

    /// Sends one cancel request if statement `target` is still the one in progress (blocks for
    /// the server's reply); false when there is nothing (more) to cancel.
    private func sendCancel(for target: UInt64) -> Bool {
        guard let canceller else { return false }
        let due = cancelState.withLock { state -> Bool in
            guard state.sent == target, state.completed != target, !state.cancelling else { return false }
            state.cancelling = true
            return true
        }
        guard due else { return false }
        var buffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(canceller, &buffer, Int32(buffer.count))  // returns once the server has acted on it
        let waiting = cancelState.withLock { state -> [UnsafeContinuation<Void, Never>] in
            state.cancelling = false
            defer { state.waiting = [] }
            return state.waiting
        }
        waiting.forEach { $0.resume() }
        return true
    }

    /// Marks the start of a statement; waits while a cancel request for the previous one is on
    /// its way (rare: only after a cancellation).
    private func startStatement() async {
        while true {
            let started = cancelState.withLock { state -> Bool in
                guard !state.cancelling else { return false }
                state.sent &+= 1
                return true
            }
            if started { return }
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                let queued = cancelState.withLock { state -> Bool in
                    guard state.cancelling else { return false }
                    state.waiting.append(continuation)
                    return true
                }
                if !queued { continuation.resume() }
            }
        }
    }

    private func statementCompleted() {
        cancelState.withLock { $0.completed = $0.sent }
    }

    // MARK: - Statements

    /// Starts a transaction with `begin` (one statement, no parameters) lazily: it is sent with
    /// the first statement (``execute(_:)`` or ``executeSimple(_:)``), and a transaction that
    /// ends before any statement never reaches the server.
    func deferBegin(_ begin: String) {
        precondition(deferredBegin == nil && PQtransactionStatus(handle) == PQTRANS_IDLE, "a transaction is already open")
        deferredBegin = begin
    }

    /// Runs `sql` as a prepared statement (prepared once per connection and text).
    func execute(_ sql: SQL) async throws -> PostgresRows {
        if deferredBegin != nil || !queued.isEmpty {
            return try consume(try await pipeline(after: [sql]))
        }
        try Self.refuseNul(in: sql)
        let prepared = statements[sql.text]
        let name = if let prepared { prepared.name } else { try await preparedName(for: sql.text) }
        let result = try await finish(sending: { send(sql, name: name) })
        defer { PQclear(result) }
        let rows = try consume(copying: result, knownColumns: prepared?.columns ?? [])
        if prepared?.columns.count != rows.columns.count {
            statements[sql.text]?.columns = rows.columns  // a no-op for a statement not prepared
        }
        return rows
    }

    /// Runs parameterless statements (DDL scripts, `SET LOCAL`, a migration's own `BEGIN`) with
    /// the simple protocol, after anything held back.
    func executeSimple(_ text: String) async throws {
        if deferredBegin != nil || !queued.isEmpty {
            _ = try consume(try await pipeline(after: []))
        }
        _ = try consume(try await finish(sending: { PQsendQuery(handle, text) }))
    }

    /// Commits the transaction, sending anything queued in the same round trip; a transaction
    /// that ran nothing never reached the server and sends nothing.
    func commit() async throws {
        if queued.isEmpty, deferredBegin != nil {
            deferredBegin = nil
        } else if !queued.isEmpty {
            _ = try consume(try await pipeline(after: [SQL(stringLiteral: "COMMIT")]))
        } else {
            _ = try consume(try await finish(sending: { PQsendQuery(handle, "COMMIT") }))
        }
    }

    /// Rolls back, dropping anything held back (a transaction whose BEGIN was never sent has
    /// nothing to roll back on the server).
    func rollback() async throws {
        queued = []
        if deferredBegin != nil {
            deferredBegin = nil
            return
        }
        _ = try consume(try await finish(cancellable: false, sending: { PQsendQuery(handle, "ROLLBACK") }))
    }

    /// Queues `sql` to run with the transaction's next statement or its COMMIT (see ``queued``).
    /// Its failure is reported there and aborts the transaction as it would have at once.
    func enqueue(_ sql: SQL) {
        queued.append(sql)
    }

    /// Runs the held-back BEGIN, the queued statements and then `tail` in one pipeline (libpq's
    /// pipeline mode): one flush and one wait for all their results. Returns the last command's
    /// result (the caller owns it), or the first failure; a failure aborts the commands after it,
    /// and leaves the transaction aborted, as running them one by one would have. Every statement
    /// is prepared before anything is taken out of the pending state, so a statement that fails to
    /// prepare leaves the BEGIN and the queue as they were.
    private func pipeline(after tail: [SQL]) async throws -> OpaquePointer {
        let commands = (deferredBegin.map { [SQL(stringLiteral: $0)] } ?? []) + queued + tail
        for command in commands { try Self.refuseNul(in: command) }
        var names: [String] = []
        for command in commands {
            guard let name = try await preparedName(for: command.text) else { break }
            names.append(name)
        }
        deferredBegin = nil
        queued = []
        guard names.count == commands.count else {
            // The statement cache is full: one round trip each.
            var last: OpaquePointer?
            for command in commands {
                if let last { PQclear(last) }
                last = try await finish(sending: { send(command, name: nil) })
                if Self.failed(last!) { break }
            }
            return last!
        }
        await startStatement()
        defer { statementCompleted() }
        guard PQenterPipelineMode(handle) == 1 else { throw connectionError() }
        for (command, name) in zip(commands, names) {
            guard send(command, name: name) == 1 else { throw connectionError() }
        }
        guard PQpipelineSync(handle) == 1 else { throw connectionError() }
        if Task.isCancelled { requestCancel() }
        var results = try await pipelineResults()
        guard results.count == commands.count else {
            results.forEach { PQclear($0) }
            throw connectionError()
        }
        if let failure = results.firstIndex(where: { PQresultStatus($0) != PGRES_PIPELINE_ABORTED && Self.failed($0) }) {
            let failed = results.remove(at: failure)
            results.forEach { PQclear($0) }
            return failed
        }
        let last = results.removeLast()
        results.forEach { PQclear($0) }
        return last
    }

    /// libpq reads bind values as C strings, so one holding NUL would be cut there without a
    /// word (PostgreSQL's text cannot hold NUL anyway). Input validation refuses NUL; this is
    /// the last line, for a value that got past it.
    private static func refuseNul(in sql: SQL) throws {
        for case let bind? in sql.binds {
            let utf8 = bind.utf8
            let holdsNul = utf8.withContiguousStorageIfAvailable { $0.count > 0 && memchr($0.baseAddress!, 0, $0.count) != nil } ?? utf8.contains(0)
            if holdsNul { throw PostgresError(code: .invalidBind, serverMessage: "a bind value contains NUL") }
        }
    }

    /// Sends one statement, prepared (`name`) or not. The bind values are copied, NUL-terminated,
    /// into one temporary buffer (libpq copies them into its output buffer before returning).
    private func send(_ sql: SQL, name: String?) -> Int32 {
        let binds = sql.binds
        let bytes = binds.reduce(0) { $0 + ($1?.utf8.count ?? 0) + 1 }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(bytes, 1)) { storage in
            withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: max(binds.count, 1)) { values in
                var offset = 0
                for (index, bind) in binds.enumerated() {
                    guard let bind else {
                        values[index] = nil
                        continue
                    }
                    let start = storage.baseAddress! + offset
                    let copied = UnsafeMutableBufferPointer(rebasing: storage[offset...]).initialize(fromContentsOf: bind.utf8)
                    storage[offset + copied] = 0
                    values[index] = UnsafeRawPointer(start).assumingMemoryBound(to: CChar.self)
                    offset += copied + 1
                }
                let count = Int32(binds.count)
                if let name {
                    return PQsendQueryPrepared(handle, name, count, values.baseAddress, nil, nil, 0)
                }
                return PQsendQueryParams(handle, sql.text, count, nil, values.baseAddress, nil, nil, 0)
            }
        }
    }

    /// Flushes the pipeline, then collects the first result of each command up to the sync point
    /// and leaves pipeline mode. The caller owns the results.
    private func pipelineResults() async throws -> [OpaquePointer] {
        var results: [OpaquePointer] = []
        do {
            try await flush()
            var commandHasResult = false
            while true {
                try await readWhileBusy()
                guard let result = PQgetResult(handle) else {
                    commandHasResult = false  // the end of one command's results
                    continue
                }
                if PQresultStatus(result) == PGRES_PIPELINE_SYNC {
                    PQclear(result)
                    break
                }
                if commandHasResult { PQclear(result) } else { results.append(result) }
                commandHasResult = true
            }
            guard PQexitPipelineMode(handle) == 1 else { throw connectionError() }
            return results
        } catch {
            results.forEach { PQclear($0) }
            throw error
        }
    }

    private func preparedName(for text: String) async throws -> String? {
        if let prepared = statements[text] { return prepared.name }
        guard statements.count < Self.maximumPreparedStatements else { return nil }
        let name = "kk\(statements.count)"
        _ = try consume(try await finish(sending: { PQsendPrepare(handle, name, text, 0, nil) }))
        statements[text] = Prepared(name: name)
        return name
    }

    /// Sends a command with `send` (a libpq `PQsend…` call), flushes it, then waits for every
    /// result: returns the first failed one, or else the last one (the caller owns it). A
    /// `cancellable` command sent by a task already cancelled is cancelled on the server (the task
    /// may have been cancelled after its last check but before this).
    private func finish(cancellable: Bool = true, sending send: () -> Int32) async throws -> OpaquePointer {
        await startStatement()
        defer { statementCompleted() }
        guard send() == 1 else { throw connectionError() }
        if cancellable, Task.isCancelled { requestCancel() }
        try await flush()
        var kept: OpaquePointer?
        while true {
            do {
                try await readWhileBusy()
            } catch {
                if let kept { PQclear(kept) }
                throw error
            }
            guard let result = PQgetResult(handle) else { break }
            if let previous = kept, Self.failed(previous) {
                PQclear(result)  // keep the first failure
            } else {
                if let previous = kept { PQclear(previous) }
                kept = result
            }
        }
        guard let kept else { throw connectionError() }
        return kept
    }

    /// Reads from the socket until libpq holds a whole result (`PQisBusy` is false).
    private func readWhileBusy() async throws {
        while PQisBusy(handle) == 1 {
            await poller.wait(socket, for: .readable)
            guard PQconsumeInput(handle) == 1 else { throw connectionError() }
        }
    }

    /// Sends what libpq has buffered, waiting for the socket when it is full.
    private func flush() async throws {
        while true {
            let flushed = PQflush(handle)
            if flushed == 0 { return }
            guard flushed > 0 else { throw connectionError() }
            await poller.wait(socket, for: .writableOrReadable)
            guard PQconsumeInput(handle) == 1 else { throw connectionError() }
        }
    }

    private static func failed(_ result: OpaquePointer) -> Bool {
        let status = PQresultStatus(result)
        return status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK
    }

    private func connectionError() -> PostgresError {
        PostgresError(code: .connectionFailure, serverMessage: String(cString: PQerrorMessage(handle)))
    }

    // MARK: - Results

    private func consume(_ result: OpaquePointer) throws -> PostgresRows {
        defer { PQclear(result) }
        return try consume(copying: result)
    }

    /// The rows of `result`, copied out; the caller still owns (and clears) it. `knownColumns`,
    /// when it has as many names as the result has columns, are the result's column names (a
    /// prepared statement's, from its previous run) and are not read again.
    private func consume(copying result: OpaquePointer, knownColumns: [String] = []) throws -> PostgresRows {
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            throw error(from: result)
        }
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        let columns = knownColumns.count == columnCount
            ? knownColumns : (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var rows: [[String?]] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            rows.append((0..<columnCount).map { column in
                PQgetisnull(result, Int32(row), Int32(column)) == 1 ? nil : String(cString: PQgetvalue(result, Int32(row), Int32(column)))
            })
        }
        let affected = Self.affectedRows(of: result)
        return PostgresRows(columns: columns, values: rows, affectedRows: affected)
    }

    /// `PQcmdTuples` as a number (it is empty for commands that affect no rows).
    private static func affectedRows(of result: OpaquePointer) -> Int {
        var count = 0
        var digit = PQcmdTuples(result)!
        while digit.pointee >= 0x30, digit.pointee <= 0x39, count < Int.max / 10 - 9 {
            count = count * 10 + Int(digit.pointee - 0x30)
            digit += 1
        }
        return count
    }

    private func error(from result: OpaquePointer) -> PostgresError {
        func field(_ code: UInt8) -> String? {
            PQresultErrorField(result, Int32(code)).map { String(cString: $0) }
        }
        let message = String(cString: PQresultErrorMessage(result))
        if PQstatus(handle) != CONNECTION_OK {
            return PostgresError(code: .connectionFailure, serverMessage: message)
        }
        let sqlState = field(UInt8(ascii: "C")) ?? PostgresError.Code.connectionFailure.rawValue
        return PostgresError(code: .init(rawValue: sqlState), constraint: field(UInt8(ascii: "n")), serverMessage: message)
    }
}
