import CLibPQ
import Glibc
import NIOConcurrencyHelpers
import NIOPosix

/// A connection of its own that `LISTEN`s on channels and reports `NOTIFY`s (PostgreSQL delivers
/// them when the notifying transaction commits). It waits on its own thread, never on the pool's,
/// and reconnects by itself when the database goes away.
public final class PostgresListener: Sendable {
    private let connectionString: String
    private let channels: [String]
    private let thread = NIOThreadPool(numberOfThreads: 1)
    private let connection = NIOLockedValueBox<ListeningConnection?>(nil)

    /// `channels` must be plain identifiers (`karokar_events`).
    public init(connectionString: String, channels: [String]) {
        precondition(channels.allSatisfy(Self.isPlainIdentifier), "channel names must be plain identifiers")
        self.connectionString = connectionString
        self.channels = channels
        thread.start()
    }

    static func isPlainIdentifier(_ name: String) -> Bool {
        name.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) != nil
    }

    /// Waits at most `timeout` for notifications; returns the channels notified (empty on
    /// timeout). A broken connection is replaced on the next call; until then this throws.
    public func wait(timeout: Duration) async throws -> [String] {
        try await notifications(timeout: timeout).map(\.channel)
    }

    /// ``wait(timeout:)`` with each notification's payload.
    public func notifications(timeout: Duration) async throws -> [PostgresNotification] {
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        return try await thread.runIfActive { [self] in
            let listening = try current()
            do {
                return try listening.wait(milliseconds: milliseconds)
            } catch {
                connection.withLockedValue { $0 = nil }
                throw error
            }
        }
    }

    private func current() throws -> ListeningConnection {
        if let existing = connection.withLockedValue({ $0 }) { return existing }
        let fresh = try ListeningConnection(connectionString, channels: channels)
        connection.withLockedValue { $0 = fresh }
        return fresh
    }

    public func close() async {
        connection.withLockedValue { $0 = nil }
        try? await thread.shutdownGracefully()
    }
}

/// One `NOTIFY` a ``PostgresListener`` received.
public struct PostgresNotification: Sendable, Hashable {
    public let channel: String
    public let payload: String
}

/// The libpq side of ``PostgresListener``; used only from its thread.
private final class ListeningConnection: @unchecked Sendable {
    private let handle: OpaquePointer

    init(_ conninfo: String, channels: [String]) throws {
        guard let handle = PQconnectdb(conninfo) else {
            throw PostgresError(code: .connectionFailure, serverMessage: "out of memory")
        }
        self.handle = handle
        guard PQstatus(handle) == CONNECTION_OK else {
            throw PostgresError(code: .connectionFailure, serverMessage: String(cString: PQerrorMessage(handle)))
        }
        for channel in channels {  // plain identifiers, checked by PostgresListener.init
            let result = PQexec(handle, "LISTEN \(channel)")
            defer { PQclear(result) }
            guard PQresultStatus(result) == PGRES_COMMAND_OK else {
                throw PostgresError(code: .connectionFailure, serverMessage: String(cString: PQerrorMessage(handle)))
            }
        }
    }

    deinit {
        PQfinish(handle)
    }

    func wait(milliseconds: Int32) throws -> [PostgresNotification] {
        var notified = drain()
        guard notified.isEmpty else { return notified }
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        guard descriptor.fd >= 0 else { throw broken() }
        let ready = poll(&descriptor, 1, milliseconds)
        if ready < 0, errno != EINTR { throw broken() }
        if ready > 0 {
            guard PQconsumeInput(handle) == 1 else { throw broken() }
            notified = drain()
        }
        guard PQstatus(handle) == CONNECTION_OK else { throw broken() }
        return notified
    }

    private func drain() -> [PostgresNotification] {
        var notifications: [PostgresNotification] = []
        while let notification = PQnotifies(handle) {
            notifications.append(PostgresNotification(
                channel: String(cString: notification.pointee.relname), payload: String(cString: notification.pointee.extra)
            ))
            PQfreemem(notification)
        }
        return notifications
    }

    private func broken() -> PostgresError {
        PostgresError(code: .connectionFailure, serverMessage: "listening connection lost: " + String(cString: PQerrorMessage(handle)))
    }
}
