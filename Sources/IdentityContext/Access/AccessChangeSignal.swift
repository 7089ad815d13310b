import KaroKarKernel
import KaroKarPostgres
import Logging

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

    /// Listens until the task is cancelled, dropping the cache's entries on every notification.
    static func listen(connectionString: String, cache: PrincipalCache, logger: Logger) async {
        let listener = PostgresListener(connectionString: connectionString, channels: [channel])
        var connected = false
        var failures = 0
        while !Task.isCancelled {
            do {
                let notified = try await listener.wait(timeout: .milliseconds(250))
                if !connected || !notified.isEmpty { cache.invalidateAll() }
                connected = true
                failures = 0
            } catch {
                connected = false
                failures += 1
                if failures == 1 { logger.warning("identity cannot listen for access changes; relying on the cache lifetime", metadata: ["error": "\(error)"]) }
                try? await Task.sleep(for: min(.milliseconds(100) * failures, .seconds(5)))
            }
        }
        await listener.close()
    }
}
