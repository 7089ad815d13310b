import Tracing

/// A leased connection, for the duration of ``PostgresPool/withConnection(_:)`` or a transaction.
/// Statements go out with libpq's non-blocking API (see ``SocketPoller``); cancelling the calling
/// task cancels the statement on the server.
public struct PostgresSession: Sendable {
    let connection: PostgresConnection
    /// The pool's ``PostgresPool/Configuration/tracer``.
    let tracer: (any Tracer)?

    init(connection: PostgresConnection, tracer: (any Tracer)? = nil) {
        self.connection = connection
        self.tracer = tracer
    }

    /// The `traceparent` of the current span, when the pool traces and a span is current (a
    /// traced call): for what outlives the transaction (an outbox event) to carry the trace on.
    public var currentTraceparent: String? {
        guard let tracer, let context = InstrumentationContext.current else { return nil }
        var carrier = TraceCarrier()
        tracer.inject(context, into: &carrier, using: TraceCarrier.Access())
        return carrier.traceparent
    }

    /// Runs one statement; values only as bind parameters (see ``SQL``).
    ///
    /// With a tracer, inside a span (a traced call, an event delivery): a client span per
    /// statement, named by its operation, with the statement's text (placeholders only: a
    /// ``SQL`` carries its values apart, and they are never recorded).
    @discardableResult
    public func query(_ sql: SQL) async throws -> PostgresRows {
        try Task.checkCancellation()
        if let tracer, let parent = InstrumentationContext.current {
            return try await SQLSpans.traced(sql.text, tracer: tracer, parent: parent) { try await run(sql) }
        }
        return try await run(sql)
    }

    private func run(_ sql: SQL) async throws -> PostgresRows {
        let connection = self.connection
        return try await withTaskCancellationHandler {
            try await connection.execute(sql)
        } onCancel: {
            connection.requestCancel()
        }
    }

    /// Queues a statement whose rows nobody reads (an outbox append) to go out with the
    /// transaction's next statement or its COMMIT, in the same round trip and in order. Its
    /// failure surfaces there and fails the transaction. Only inside ``PostgresPool/transaction(isolation:durable:maximumAttempts:_:)``.
    public func enqueue(_ sql: SQL) {
        connection.enqueue(sql)
    }

    /// Parameterless commands through the simple protocol (transaction control, multi-statement
    /// migration scripts). Never give it text built from input.
    func simple(_ text: String) async throws {
        let connection = self.connection
        try await withTaskCancellationHandler {
            try await connection.executeSimple(text)
        } onCancel: {
            connection.requestCancel()
        }
    }

    /// ROLLBACK, even from a cancelled task (nothing on this path checks for cancellation); a
    /// failure here leaves the connection unusable, and the pool closes it.
    func rollback() async {
        _ = try? await connection.rollback()
    }

    /// COMMIT, with anything queued in the same round trip.
    func commit() async throws {
        if let tracer, let parent = InstrumentationContext.current {
            _ = try await SQLSpans.traced("COMMIT", tracer: tracer, parent: parent) {
                try await commitNow()
                return PostgresRows?.none
            }
            return
        }
        try await commitNow()
    }

    private func commitNow() async throws {
        let connection = self.connection
        try await withTaskCancellationHandler {
            try await connection.commit()
        } onCancel: {
            connection.requestCancel()
        }
    }
}

/// Transaction isolation levels.
public enum IsolationLevel: String, Sendable {
    case readCommitted = "READ COMMITTED"
    case repeatableRead = "REPEATABLE READ"
    case serializable = "SERIALIZABLE"
}

extension PostgresPool {
    /// A unit of work: `body` runs inside one transaction that commits when it returns and rolls
    /// back when it throws or its task is cancelled. Serialization failures and deadlocks retry the
    /// whole unit (at most `maximumAttempts` times), so `body` must not have effects outside it.
    ///
    /// `durable: false` lets the commit return before its WAL record is flushed (a crash may lose
    /// the last few such commits, atomically, never half of one): for work that is safe to redo,
    /// such as handling an outbox delivery together with its settlement.
    public func transaction<R: Sendable>(
        isolation: IsolationLevel = .readCommitted, durable: Bool = true, maximumAttempts: Int = 4,
        _ body: (PostgresSession) async throws -> R
    ) async throws -> R {
        var attempt = 1
        let begin = "BEGIN ISOLATION LEVEL \(isolation.rawValue)" + (durable ? "" : "; SET LOCAL synchronous_commit TO OFF")
        while true {
            do {
                return try await withConnection { session in
                    if durable {
                        session.connection.deferBegin(begin)  // goes out with the first statement
                    } else {
                        try await session.simple(begin)
                    }
                    do {
                        let result = try await body(session)
                        try await session.commit()
                        return result
                    } catch {
                        await session.rollback()
                        throw error
                    }
                }
            } catch let error as PostgresError where error.code.isTransient && attempt < maximumAttempts {
                attempt += 1
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...5) * attempt))
            }
        }
    }

    /// One statement in its own implicit transaction.
    @discardableResult
    public func query(_ sql: SQL) async throws -> PostgresRows {
        try await withConnection { try await $0.query(sql) }
    }
}


/// The spans of statements (``PostgresSession/query(_:)``).
enum SQLSpans {
    static func traced<R>(_ text: String, tracer: any Tracer, parent: InstrumentationContext, _ body: () async throws -> R) async throws -> R {
        let span = tracer.startSpan(operation(of: text), context: parent, ofKind: .client)
        if span.isRecording {
            var attributes = span.attributes
            attributes["db.system.name"] = "postgresql"
            attributes["db.operation.name"] = operation(of: text)
            attributes["db.query.text"] = String(text.prefix(2048))
            span.attributes = attributes
        }
        do {
            let result = try await body()
            if span.isRecording, let rows = result as? PostgresRows { span.attributes["db.response.returned_rows"] = Int64(rows.count) }
            span.end()
            return result
        } catch {
            if span.isRecording {
                // The SQLSTATE and the error's type, never its message: PostgreSQL's messages may quote values.
                let code = (error as? PostgresError)?.code.rawValue
                if let code { span.attributes["db.response.status_code"] = code }
                span.attributes["error.type"] = "\(type(of: error))"
                span.setStatus(SpanStatus(code: .error, message: code))
            }
            span.end()
            throw error
        }
    }

    /// The statement's first keyword, upper-cased (`SELECT`, `INSERT`, `WITH`, ...): the span's name.
    static func operation(of text: String) -> String {
        let word = text.utf8.drop { $0 == 0x20 || $0 == 0x0a || $0 == 0x09 || $0 == 0x0d || $0 == UInt8(ascii: "(") }
            .prefix { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0 | 0x20) }
        return word.isEmpty ? "SQL" : String(decoding: word.prefix(32), as: UTF8.self).uppercased()
    }
}

/// Just the `traceparent` of an injection.
struct TraceCarrier: Sendable {
    var traceparent: String?

    struct Access: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout TraceCarrier) {
            if key == "traceparent" { carrier.traceparent = value }
        }
    }
}
