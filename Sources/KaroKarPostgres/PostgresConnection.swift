import CLibPQ
import Glibc

/// One libpq connection, owned: freed exactly once, in `deinit`. Connecting blocks (callers run
/// it on ``BlockingExecutor`` threads); queries use libpq's non-blocking API and wait for the
/// socket on the pool's ``SocketPoller``, so no thread blocks per query. Not thread-safe: the pool
/// leases it to one task at a time; only ``cancelCurrentQuery()`` may be called from elsewhere.
final class PostgresConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    private let canceller: OpaquePointer?
    private let poller: SocketPoller
    private let socket: Int32
    private var statements: [String: String] = [:]
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

    /// Connects (blocking). `conninfo` is a libpq connection string or URI.
    static func connect(_ conninfo: String, id: Int, poller: SocketPoller) throws -> PostgresConnection {
        // UTC and ISO dates make the text formats of PostgresTimestamp exact.
        let options = conninfo.contains("://")
            ? conninfo + (conninfo.contains("?") ? "&" : "?") + "options=-c%20TimeZone%3DUTC%20-c%20DateStyle%3DISO&application_name=karokar"
            : conninfo + " options='-c TimeZone=UTC -c DateStyle=ISO' application_name=karokar"
        guard let handle = PQconnectdb(options) else {
            throw PostgresError(code: .connectionFailure, serverMessage: "out of memory")
        }
        guard PQstatus(handle) == CONNECTION_OK, PQsetnonblocking(handle, 1) == 0 else {
            let message = String(cString: PQerrorMessage(handle))
            PQfinish(handle)
            throw PostgresError(code: .connectionFailure, serverMessage: message)
        }
        return PostgresConnection(handle: handle, id: id, poller: poller)
    }

    private init(handle: OpaquePointer, id: Int, poller: SocketPoller) {
        self.handle = handle
        self.canceller = PQgetCancel(handle)
        self.id = id
        self.poller = poller
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

    /// Asks the server to cancel the statement running on this connection (thread-safe).
    func cancelCurrentQuery() {
        guard let canceller else { return }
        var buffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(canceller, &buffer, Int32(buffer.count))
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
        let name = try await preparedName(for: sql.text)
        return try consume(try await finish(sent: send(sql, name: name)))
    }

    /// Runs parameterless statements (DDL scripts, `SET LOCAL`, a migration's own `BEGIN`) with
    /// the simple protocol, after anything held back.
    func executeSimple(_ text: String) async throws {
        if deferredBegin != nil || !queued.isEmpty {
            _ = try consume(try await pipeline(after: []))
        }
        _ = try consume(try await finish(sent: PQsendQuery(handle, text)))
    }

    /// Commits the transaction, sending anything queued in the same round trip; a transaction
    /// that ran nothing never reached the server and sends nothing.
    func commit() async throws {
        if queued.isEmpty, deferredBegin != nil {
            deferredBegin = nil
        } else if !queued.isEmpty {
            _ = try consume(try await pipeline(after: [SQL(stringLiteral: "COMMIT")]))
        } else {
            _ = try consume(try await finish(sent: PQsendQuery(handle, "COMMIT")))
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
        _ = try consume(try await finish(sent: PQsendQuery(handle, "ROLLBACK")))
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
                last = try await finish(sent: send(command, name: nil))
                if Self.failed(last!) { break }
            }
            return last!
        }
        guard PQenterPipelineMode(handle) == 1 else { throw connectionError() }
        for (command, name) in zip(commands, names) {
            guard send(command, name: name) == 1 else { throw connectionError() }
        }
        guard PQpipelineSync(handle) == 1 else { throw connectionError() }
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

    /// Sends one statement, prepared (`name`) or not.
    private func send(_ sql: SQL, name: String?) -> Int32 {
        let pointers = sql.binds.map { $0.map { strdup($0)! } }
        defer { pointers.forEach { free($0) } }
        // libpq copies the values into its output buffer before returning.
        return pointers.map { $0.map { UnsafePointer($0) } }.withUnsafeBufferPointer { values in
            if let name {
                return PQsendQueryPrepared(handle, name, Int32(values.count), values.baseAddress, nil, nil, 0)
            }
            return PQsendQueryParams(handle, sql.text, Int32(values.count), nil, values.baseAddress, nil, nil, 0)
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
                while PQisBusy(handle) == 1 {
                    await poller.wait(socket, for: .readable)
                    guard PQconsumeInput(handle) == 1 else { throw connectionError() }
                }
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
        if let name = statements[text] { return name }
        guard statements.count < Self.maximumPreparedStatements else { return nil }
        let name = "kk\(statements.count)"
        _ = try consume(try await finish(sent: PQsendPrepare(handle, name, text, 0, nil)))
        statements[text] = name
        return name
    }

    /// Flushes what was sent, then waits for every result of the command: returns the first
    /// failed one, or else the last one (the caller owns it).
    private func finish(sent: Int32) async throws -> OpaquePointer {
        guard sent == 1 else { throw connectionError() }
        try await flush()
        var kept: OpaquePointer?
        while true {
            while PQisBusy(handle) == 1 {
                await poller.wait(socket, for: .readable)
                guard PQconsumeInput(handle) == 1 else {
                    if let kept { PQclear(kept) }
                    throw connectionError()
                }
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

    /// The rows of `result`, copied out; the caller still owns (and clears) it.
    private func consume(copying result: OpaquePointer) throws -> PostgresRows {
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            throw error(from: result)
        }
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var rows: [[String?]] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            rows.append((0..<columnCount).map { column in
                PQgetisnull(result, Int32(row), Int32(column)) == 1 ? nil : String(cString: PQgetvalue(result, Int32(row), Int32(column)))
            })
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PostgresRows(columns: columns, values: rows, affectedRows: affected)
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
