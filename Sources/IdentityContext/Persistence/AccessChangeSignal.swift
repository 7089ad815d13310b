import KaroKarKernel
import KaroKarPostgres
import Logging
import Synchronization

/// Tells every server process that access changed (a membership, a user, a service account, an
/// organization's status), so that each drops its cached principals.
///
/// PostgreSQL's NOTIFY, sent inside the changing transaction, reaches every listening process
/// when (and only if) it commits. The outbox's after-commit consumers cannot do this: a consumer
/// name is shared by every process and each event goes to one of them. Notifications lost while
/// a listener is disconnected are covered by dropping everything on reconnection, and by the
/// cache's short lifetime.
enum AccessChangeSignal {
    static let channel = "karokar_identity_access"

    /// Queues the notification in `work`'s transaction.
    static func send(on work: UnitOfWork) async throws {
        try await work.query("SELECT pg_notify(\(channel), '')")
    }
}

/// This process's ear for ``AccessChangeSignal``: it starts listening before the server serves
/// (so no change can slip between the first cached principal and the first LISTEN), then calls
/// `changed` on every notification, and after every reconnection (what was missed meanwhile is
/// unknown). Identity drops its cached principals then.
final class AccessChangeListener: Sendable {
    private let listener: PostgresListener
    private let changed: @Sendable () -> Void
    private let logger: Logger
    private let listening = Mutex(false)

    init(connectionString: String, logger: Logger, changed: @escaping @Sendable () -> Void) {
        listener = PostgresListener(connectionString: connectionString, channels: [AccessChangeSignal.channel])
        self.changed = changed
        self.logger = logger
    }

    /// Connects and LISTENs; a failure is logged, and the background loop retries.
    func start() async {
        await poll(timeout: .zero)
    }

    /// Until the task is cancelled.
    func run() async {
        var failures = 0
        while !Task.isCancelled {
            if await poll(timeout: .milliseconds(250)) {
                failures = 0
            } else {
                failures += 1
                try? await Task.sleep(for: min(.milliseconds(100) * failures, .seconds(5)))
            }
        }
        await listener.close()
    }

    /// One wait; false when the connection failed.
    @discardableResult
    private func poll(timeout: Duration) async -> Bool {
        do {
            let notified = try await listener.wait(timeout: timeout)
            let reconnected = listening.withLock { wasListening in
                defer { wasListening = true }
                return !wasListening
            }
            if !notified.isEmpty || reconnected { changed() }
            return true
        } catch {
            let wasListening = listening.withLock { state in
                defer { state = false }
                return state
            }
            if wasListening { logger.warning("identity lost its access-change listener; relying on the cache lifetime until it is back", metadata: ["error": "\(error)"]) }
            return false
        }
    }
}
