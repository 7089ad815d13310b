import Foundation
import NIOCore

/// A bounded pool of persistent SMTP sessions to one relay (one per configured server, per
/// process): up to ``SMTPConfiguration/maximumConnections`` sessions, each carrying one message at
/// a time and many one after another (a mail transaction each; RSET after a refused one). Senders
/// beyond that wait for a session to come free, at most the SMTP timeout (then the attempt fails
/// and is retried like any other).
///
/// A session goes back to the pool only when the server answered every step in turn; after a
/// time-out, a 421 or a closed connection it is dropped. A parked session is dropped, not reused,
/// when the server closed it or said anything meanwhile (its idle time-out), when it has been
/// idle ``SMTPConfiguration/idleTimeout`` (closed then with QUIT by a timer) or has carried
/// ``SMTPConfiguration/maximumMessagesPerConnection``. A reused session that turns out closed
/// before any of the message's data was written (the server closed it as it was taken) is
/// replaced at once by a new connection, once: nothing was delivered, so nothing is duplicated.
actor SMTPConnectionPool {
    let client: SMTPClient
    private var idle: [SMTPConnection] = []
    private var open = 0
    private var waiters: [(id: UInt64, continuation: CheckedContinuation<Bool, Never>)] = []
    private var nextWaiter: UInt64 = 0
    private var closed = false
    /// Connections opened over the pool's life (for tests and logs).
    private(set) var opened = 0

    init(_ client: SMTPClient) {
        self.client = client
    }

    var configuration: SMTPConfiguration { client.configuration }

    func send(_ message: MailMessage) async throws(SendFailure) {
        guard SMTPClient.isAddress(message.to) else { throw .permanent("not an e-mail address: \(message.to.prefix(100))") }
        var replaced = false
        while true {
            let (connection, reused) = try await checkout()
            do {
                try await client.transaction(message, on: connection)
                checkin(connection)
                return
            } catch {
                if error.connectionUsable { checkin(connection) } else { drop(connection, quit: false) }
                if reused, error.closedBeforeData, !replaced {
                    replaced = true
                    continue
                }
                throw error.failure
            }
        }
    }

    /// Closes the parked sessions (QUIT) and refuses further sends; sessions in use are closed as
    /// they come back.
    func close() async {
        closed = true
        let parked = idle
        idle = []
        for connection in parked { drop(connection, quit: true) }
        for waiter in waiters { waiter.continuation.resume(returning: false) }
        waiters = []
    }

    /// Sessions open now (in use and parked), and parked.
    var counts: (open: Int, idle: Int) { (open, idle.count) }

    // MARK: - Checking out and in

    private func checkout() async throws(SendFailure) -> (SMTPConnection, reused: Bool) {
        let deadline = ContinuousClock.now + configuration.timeout
        while true {
            guard !closed else { throw .transient("the SMTP sender is shutting down") }
            while let connection = idle.popLast() {
                connection.idleTimer?.cancel()
                connection.idleTimer = nil
                if ContinuousClock.now - connection.parkedAt < configuration.idleTimeout, await connection.session.unpark() {
                    return (connection, true)
                }
                drop(connection, quit: connection.isOpen)
            }
            if open < configuration.maximumConnections {
                open += 1
                opened += 1
                do {
                    return (try await client.connect(), false)
                } catch {
                    open -= 1
                    wakeOne()
                    throw error
                }
            }
            guard await waitForConnection(until: deadline) else {
                throw .transient(closed ? "the SMTP sender is shutting down" : "no SMTP connection came free within \(configuration.timeout)")
            }
        }
    }

    private func checkin(_ connection: SMTPConnection) {
        guard !closed, connection.isOpen, connection.messages < configuration.maximumMessagesPerConnection else {
            return drop(connection, quit: connection.isOpen)
        }
        connection.parkedAt = .now
        connection.session.park()
        let idleTimeout = configuration.idleTimeout
        connection.idleTimer = connection.session.channel.eventLoop.scheduleTask(in: TimeAmount(idleTimeout)) { [weak self, weak connection] in
            guard let self, let connection else { return }
            Task { await self.expire(connection) }
        }
        idle.append(connection)
        wakeOne()
    }

    /// A parked session reached its idle time: closed with QUIT.
    private func expire(_ connection: SMTPConnection) {
        guard let index = idle.firstIndex(where: { $0 === connection }) else { return }
        idle.remove(at: index)
        drop(connection, quit: true)
    }

    private func drop(_ connection: SMTPConnection, quit: Bool) {
        open -= 1
        connection.idleTimer?.cancel()
        if quit {
            Task { await connection.session.quit() }
        } else {
            connection.close()
        }
        wakeOne()
    }

    // MARK: - Waiting

    private func wakeOne() {
        guard !waiters.isEmpty else { return }
        waiters.removeFirst().continuation.resume(returning: true)
    }

    /// Waits until a session is parked or a slot frees (true), or the deadline (false).
    private func waitForConnection(until deadline: ContinuousClock.Instant) async -> Bool {
        nextWaiter += 1
        let id = nextWaiter
        let timer = Task { [weak self] in
            try? await Task.sleep(until: deadline, clock: .continuous)
            await self?.timeOut(id)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            waiters.append((id, continuation))
        }
    }

    private func timeOut(_ id: UInt64) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(returning: false)
    }
}
