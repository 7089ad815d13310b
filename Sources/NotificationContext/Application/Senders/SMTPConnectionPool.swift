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
///
/// Per message, the pool costs no timer of its own: one idle sweep serves every parked session
/// (armed for the oldest one's idle end) and one deadline every waiting sender (armed for the
/// first one's), where a timer per checkin and a sleeping task per wait had cost two or three
/// thread wake-ups a message. The mail transaction itself runs on its connection's event loop
/// (``SMTPLoopExecutor``): each write, reply and step timer happens on the thread that does the
/// connection's I/O, without a hand-off to that thread and back per step.
actor SMTPConnectionPool {
    let client: SMTPClient
    private var idle: [SMTPConnection] = []
    private var open = 0
    private var waiters: [(deadline: ContinuousClock.Instant, continuation: CheckedContinuation<Bool, Never>)] = []
    private var closed = false
    /// The idle sweep, while a session is parked.
    private var sweep: Scheduled<Void>?
    /// The waiters' deadline, while a sender waits: the earliest one's.
    private var deadlineTimer: (at: ContinuousClock.Instant, task: Task<Void, Never>)?
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
                let client = client
                try await withTaskExecutorPreference(SMTPLoopExecutor(connection.session.channel.eventLoop)) { () async throws(SMTPTransactionFailure) in
                    try await client.transaction(message, on: connection)
                }
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
        sweep?.cancel()
        sweep = nil
        deadlineTimer?.task.cancel()
        deadlineTimer = nil
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
        idle.append(connection)
        armSweep()
        wakeOne()
    }

    /// Arms the idle sweep for the oldest parked session's idle end, unless it is armed.
    private func armSweep() {
        guard sweep == nil, !closed, let oldest = idle.min(by: { $0.parkedAt < $1.parkedAt }) else { return }
        let wait = max(oldest.parkedAt + configuration.idleTimeout - .now, .milliseconds(1))
        sweep = oldest.session.channel.eventLoop.scheduleTask(in: TimeAmount(wait)) { [weak self] in
            guard let self else { return }
            Task { await self.sweepIdle() }
        }
    }

    /// Parked sessions that reached their idle time are closed with QUIT; the sweep is armed
    /// again for the next one.
    private func sweepIdle() {
        sweep = nil
        let now = ContinuousClock.now
        let expired = idle.filter { now - $0.parkedAt >= configuration.idleTimeout }
        idle.removeAll { now - $0.parkedAt >= configuration.idleTimeout }
        for connection in expired { drop(connection, quit: true) }
        armSweep()
    }

    private func drop(_ connection: SMTPConnection, quit: Bool) {
        open -= 1
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
        guard deadline > .now else { return false }
        return await withCheckedContinuation { continuation in
            waiters.append((deadline, continuation))
            armDeadline()
        }
    }

    /// Arms the waiters' deadline for the earliest one's, unless it is armed for that or
    /// sooner. (A sender woken for a connection it then lost waits again with its first
    /// deadline, which can be earlier than those of senders that came after it.)
    private func armDeadline() {
        guard !closed, let earliest = waiters.map(\.deadline).min() else { return }
        if let armed = deadlineTimer, armed.at <= earliest { return }
        deadlineTimer?.task.cancel()
        let task = Task { [weak self] in
            try? await Task.sleep(until: earliest, clock: .continuous)
            guard !Task.isCancelled else { return }
            await self?.expireWaiters(armedAt: earliest)
        }
        deadlineTimer = (earliest, task)
    }

    /// Waiters past their deadline are told no connection came free; the deadline is armed
    /// again for the next one.
    private func expireWaiters(armedAt: ContinuousClock.Instant) {
        if deadlineTimer?.at == armedAt { deadlineTimer = nil }
        let now = ContinuousClock.now
        let expired = waiters.filter { $0.deadline <= now }
        waiters.removeAll { $0.deadline <= now }
        for waiter in expired { waiter.continuation.resume(returning: false) }
        armDeadline()
    }
}

/// A connection's event loop as a task executor, for its mail transactions. (The RPC runtime has
/// the same as `EventLoopExecutor`; a context's application layer does not import the runtime.)
final class SMTPLoopExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        loop.execute { job.runSynchronously(on: executor) }
    }
}
