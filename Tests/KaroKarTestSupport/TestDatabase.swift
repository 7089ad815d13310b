import Foundation
public import KaroKarPostgres
public import Tracing

/// The test run's PostgreSQL: one throwaway cluster per test process, started on first use, with a
/// fresh database for each caller. The cluster's watchdog stops it and deletes its directory when
/// the test process exits, even if it crashes.
public enum TestDatabase {
    private actor Cluster {
        private var started: Task<EmbeddedPostgres, any Error>?

        func get() async throws -> EmbeddedPostgres {
            if let started { return try await started.value }
            let task = Task { try await EmbeddedPostgres.start(TestDatabase.throwawayOptions(name: "shared")) }
            started = task
            return try await task.value
        }
    }

    private static let cluster = Cluster()

    /// Options for a throwaway cluster under /tmp, removed when it stops or its owner dies.
    public static func throwawayOptions(name: String) -> EmbeddedPostgres.Options {
        var options = EmbeddedPostgres.Options(directory: "/tmp/karokar-test-\(getpid())-\(name)-\(UUID().uuidString.prefix(8).lowercased())")
        options.durable = false
        options.throwaway = true
        // Every suite runs at once, each with its pools and server processes: the tests of one
        // `swift test` run all start together, and their first seconds (a marketplace each,
        // relays and migrations connecting) are the peak. 1,000 was reached on a CI run
        // ("too many clients"); 700 is typical now that servers close the pools they made.
        options.maximumConnections = 2000
        // The lock table is shared by every database: a hundred migrations at once (the run's
        // start) must not leave a business statement "out of shared memory" (53200: UNAVAILABLE).
        options.maximumLocksPerTransaction = 256
        // KAROKAR_TEST_PG_SETTINGS="shared_buffers=512MB work_mem=8MB": settings for a benchmark
        // run as a test (Deploy/bench-notification.sh), never needed by the tests themselves.
        for setting in (ProcessInfo.processInfo.environment["KAROKAR_TEST_PG_SETTINGS"] ?? "").split(separator: " ") {
            let parts = setting.split(separator: "=", maxSplits: 1)
            options.settings[String(parts[0])] = parts.count == 2 ? String(parts[1]) : ""
        }
        return options
    }

    /// A new, empty database on the shared cluster, and a pool for it. The acquire timeout is
    /// long by default: every suite runs at once on a 2-core machine, and tests are not where
    /// the pool's latency is measured (tests of the timeout itself pass a short one).
    /// `tracer`: the pool traces statements (``PostgresPool/Configuration/tracer``).
    public static func fresh(
        maximumConnections: Int = 10, acquireTimeout: Duration? = .seconds(30), tracer: (any Tracer)? = nil
    ) async throws -> (PostgresPool, String) {
        let cluster = try await cluster.get()
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await cluster.createDatabase(name)
        var configuration = PostgresPool.Configuration(connectionString: cluster.connectionString(database: name))
        configuration.maximumConnections = maximumConnections
        if let acquireTimeout { configuration.acquireTimeout = acquireTimeout }
        configuration.tracer = tracer
        return (PostgresPool(configuration: configuration), cluster.connectionString(database: name))
    }
}
