/// A leased connection, for the duration of ``PostgresPool/withConnection(_:)`` or a transaction.
/// Statements go out with libpq's non-blocking API (see ``SocketPoller``); cancelling the calling
/// task cancels the statement on the server.
public struct PostgresSession: Sendable {
    let connection: PostgresConnection

    /// Runs one statement; values only as bind parameters (see ``SQL``).
    @discardableResult
    public func query(_ sql: SQL) async throws -> PostgresRows {
        try Task.checkCancellation()
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
