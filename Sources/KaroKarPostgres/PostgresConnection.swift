import CLibPQ
import Glibc

/// One libpq connection, owned: freed exactly once, in `deinit`. Every method blocks, so callers
/// run them on ``BlockingExecutor`` threads. Not thread-safe: the pool leases it to one task at a
/// time; only ``cancelCurrentQuery()`` may be called from another thread.
final class PostgresConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    private let canceller: OpaquePointer?
    private var statements: [String: String] = [:]
    let id: Int
    /// When the pool last handed this connection back; used to decide on a health check.
    var lastUsed = ContinuousClock.now

    static let maximumPreparedStatements = 512

    /// Connects (blocking). `conninfo` is a libpq connection string or URI.
    static func connect(_ conninfo: String, id: Int) throws -> PostgresConnection {
        // UTC and ISO dates make the text formats of PostgresTimestamp exact.
        let options = conninfo.contains("://")
            ? conninfo + (conninfo.contains("?") ? "&" : "?") + "options=-c%20TimeZone%3DUTC%20-c%20DateStyle%3DISO&application_name=karokar"
            : conninfo + " options='-c TimeZone=UTC -c DateStyle=ISO' application_name=karokar"
        guard let handle = PQconnectdb(options) else {
            throw PostgresError(code: .connectionFailure, serverMessage: "out of memory")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(handle))
            PQfinish(handle)
            throw PostgresError(code: .connectionFailure, serverMessage: message)
        }
        return PostgresConnection(handle: handle, id: id)
    }

    private init(handle: OpaquePointer, id: Int) {
        self.handle = handle
        self.canceller = PQgetCancel(handle)
        self.id = id
    }

    deinit {
        if let canceller { PQfreeCancel(canceller) }
        PQfinish(handle)
    }

    /// Open, and not inside a transaction: fit to go back to the pool.
    var isReusable: Bool {
        PQstatus(handle) == CONNECTION_OK && PQtransactionStatus(handle) == PQTRANS_IDLE
    }

    /// Asks the server to cancel the statement running on this connection (thread-safe).
    func cancelCurrentQuery() {
        guard let canceller else { return }
        var buffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(canceller, &buffer, Int32(buffer.count))
    }

    /// Runs `sql` as a prepared statement (prepared once per connection and text).
    func execute(_ sql: SQL) throws -> PostgresRows {
        let name = try preparedName(for: sql.text)
        return try withCStrings(sql.binds) { values in
            let result = name.map { PQexecPrepared(handle, $0, Int32(values.count), values, nil, nil, 0) }
                ?? PQexecParams(handle, sql.text, Int32(values.count), nil, values, nil, nil, 0)
            return try consume(result)
        }
    }

    /// Runs parameterless statements (`BEGIN`, `COMMIT`, `ROLLBACK`, DDL) with the simple protocol.
    func executeSimple(_ text: String) throws {
        _ = try consume(PQexec(handle, text))
    }

    private func preparedName(for text: String) throws -> String? {
        if let name = statements[text] { return name }
        guard statements.count < Self.maximumPreparedStatements else { return nil }
        let name = "kk\(statements.count)"
        _ = try consume(PQprepare(handle, name, text, 0, nil))
        statements[text] = name
        return name
    }

    private func consume(_ result: OpaquePointer?) throws -> PostgresRows {
        guard let result else {
            throw PostgresError(code: .connectionFailure, serverMessage: String(cString: PQerrorMessage(handle)))
        }
        defer { PQclear(result) }
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

    private func withCStrings<R>(_ values: [String?], _ body: ([UnsafePointer<CChar>?]) throws -> R) rethrows -> R {
        let pointers = values.map { $0.map { strdup($0)! } }
        defer { pointers.forEach { free($0) } }
        return try body(pointers.map { $0.map { UnsafePointer($0) } })
    }
}
