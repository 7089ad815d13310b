import Foundation
import Glibc
import NIOPosix

/// A private PostgreSQL cluster run from the system's binaries: `initdb` once, `pg_ctl start` with
/// a Unix socket in its own directory, `pg_ctl stop` at the end. As root it runs PostgreSQL as the
/// unprivileged `postgres` user (PostgreSQL refuses to run as root). A watchdog process stops the
/// cluster if the process that started it dies without stopping it (a crash, SIGKILL), and removes
/// a throwaway directory.
public final class EmbeddedPostgres: Sendable {
    public struct Options: Sendable {
        /// Holds `data/`, `socket/` and `postgres.log`; created if missing.
        public var directory: String
        /// Part of the socket's name; any value works since the socket directory is private.
        public var port = Int.random(in: 20_000...60_000)
        /// fsync and friends; off only for throwaway test clusters.
        public var durable = true
        /// Remove `directory` when the cluster stops (tests).
        public var throwaway = false
        /// PostgreSQL's `max_connections`.
        public var maximumConnections = 200
        /// PostgreSQL's `max_locks_per_transaction` (its lock table holds this many per
        /// connection slot); nil: PostgreSQL's default, 64. A migration creating a whole schema
        /// takes hundreds of locks, and a test run migrates a hundred databases at once.
        public var maximumLocksPerTransaction: Int?
        /// Further server settings (`-c name=value`), e.g. `shared_buffers` for a benchmark.
        /// Names are letters, digits, `_` and `.`; values have no whitespace or quotes (they
        /// pass through pg_ctl's option string).
        public var settings: [String: String] = [:]

        public init(directory: String) {
            self.directory = directory
        }
    }

    /// Why the cluster could not be set up, with the tool's output.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let options: Options
    public static let superuser = "karokar"

    private init(options: Options) {
        self.options = options
    }

    var dataDirectory: String { options.directory + "/data" }
    var socketDirectory: String { options.directory + "/socket" }

    /// A libpq connection string for `database` on this cluster.
    public func connectionString(database: String = "postgres") -> String {
        "host=\(socketDirectory) port=\(options.port) user=\(Self.superuser) dbname=\(database)"
    }

    /// Initializes the cluster if needed and starts it; returns when it accepts connections.
    public static func start(_ options: Options) async throws -> EmbeddedPostgres {
        _ = try extraSettings(options)  // a bad setting fails before anything is created
        let cluster = EmbeddedPostgres(options: options)
        try await NIOThreadPool.singleton.runIfActive { try cluster.startBlocking() }
        return cluster
    }

    /// Stops the cluster (fast shutdown) and, for throwaway clusters, removes the directory.
    public func stop() async {
        _ = try? await NIOThreadPool.singleton.runIfActive { [self] in
            _ = try? run(tool("pg_ctl"), ["-D", dataDirectory, "-m", "fast", "-w", "stop"], asOwner: true)
            if options.throwaway { try? FileManager.default.removeItem(atPath: options.directory) }
        }
    }

    /// Stops the server but keeps the cluster (to simulate an outage); ``resume()`` starts it again.
    public func pause() async throws {
        try await NIOThreadPool.singleton.runIfActive { [self] in
            _ = try run(tool("pg_ctl"), ["-D", dataDirectory, "-m", "immediate", "-w", "stop"], asOwner: true)
        }
    }

    public func resume() async throws {
        try await NIOThreadPool.singleton.runIfActive { [self] in try startServer() }
    }

    /// Creates a database owned by the superuser. `name` must be a plain identifier.
    public func createDatabase(_ name: String) async throws {
        guard name.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) != nil else {
            throw Failure(description: "invalid database name \(name)")
        }
        // An administrative step, not a call's: it waits for a busy cluster (many databases
        // created at once: a test run's suites) longer than a call would.
        var configuration = PostgresPool.Configuration(connectionString: connectionString())
        configuration.acquireTimeout = .seconds(60)
        let pool = PostgresPool(configuration: configuration)
        defer { Task { await pool.close() } }
        try await pool.withConnection { session in
            let exists = try await session.query("SELECT 1 FROM pg_database WHERE datname = \(name)")
            if exists.isEmpty { try await session.simple("CREATE DATABASE \"\(name)\"") }
        }
    }

    // MARK: - Blocking steps

    private func startBlocking() throws {
        let fileManager = FileManager.default
        for directory in [options.directory, socketDirectory] {
            try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try giveToOwner(directory)
        }
        if runsAsRoot, (try? run("/usr/bin/test", ["-w", socketDirectory], asOwner: true)) == nil {
            throw Failure(description: """
                the postgres user cannot write \(socketDirectory): PostgreSQL runs as that user when the \
                server runs as root, so data-dir must lie under directories it can traverse (e.g. /var/lib/karokar)
                """)
        }
        if !fileManager.fileExists(atPath: dataDirectory + "/PG_VERSION") {
            try run(tool("initdb"), [
                "-D", dataDirectory, "-U", Self.superuser, "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-instructions",
            ] + (options.durable ? [] : ["--no-sync"]), asOwner: true)
        }
        // The watchdog first: a crash or hang from here on must not leave a cluster behind.
        try startWatchdog()
        try startServer()
    }

    /// ``Options/settings`` as `-c name=value` arguments, in name order; throws for a name or
    /// value that pg_ctl's option string could not carry as it is.
    static func extraSettings(_ options: Options) throws -> [String] {
        try options.settings.sorted(by: { $0.key < $1.key }).map { name, value in
            let nameIsPlain = !name.isEmpty && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ".") }
            let valueIsPlain = !value.isEmpty && !value.contains { $0.isWhitespace || $0 == "'" || $0 == "\"" || $0 == "\\" }
            guard nameIsPlain, valueIsPlain else { throw Failure(description: "unusable PostgreSQL setting \(name)=\(value)") }
            return "-c \(name)=\(value)"
        }
    }

    private func startServer() throws {
        var settings = [
            "-p \(options.port)", "-k \(socketDirectory)", "-c listen_addresses=''", "-c max_connections=\(options.maximumConnections)",
        ]
        if let locks = options.maximumLocksPerTransaction { settings.append("-c max_locks_per_transaction=\(locks)") }
        settings += try Self.extraSettings(options)
        if !options.durable {
            settings += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        }
        try run(tool("pg_ctl"), [
            "-D", dataDirectory, "-l", options.directory + "/postgres.log", "-w", "-t", "60",
            "-o", settings.joined(separator: " "), "start",
        ], asOwner: true)
    }

    /// A shell that outlives us only long enough to stop the cluster once we are gone.
    private func startWatchdog() throws {
        let cleanup = options.throwaway ? "rm -rf '\(options.directory)';" : ""
        let script = """
            while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done
            pid=$(head -1 '\(dataDirectory)/postmaster.pid' 2>/dev/null) && kill -INT "$pid" 2>/dev/null
            for i in $(seq 1 30); do [ -e '\(dataDirectory)/postmaster.pid' ] || break; sleep 0.5; done
            \(cleanup)
            """
        _ = try Subprocess.spawn("/bin/sh", ["-c", script], outputPath: nil)
    }

    private static let binaryDirectory: String? = {
        if let configured = ProcessInfo.processInfo.environment["KAROKAR_PG_BINDIR"] { return configured }
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return versions.compactMap(Int.init).max().map { "\(root)/\($0)/bin" }
    }()

    private func tool(_ name: String) throws -> String {
        guard let directory = Self.binaryDirectory, FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") else {
            throw Failure(description: "PostgreSQL's \(name) not found (apt-get install postgresql, or set KAROKAR_PG_BINDIR)")
        }
        return "\(directory)/\(name)"
    }

    private var runsAsRoot: Bool { geteuid() == 0 }

    /// As root, files belong to the unprivileged `postgres` user.
    private func giveToOwner(_ path: String) throws {
        guard runsAsRoot else { return }
        guard let user = getpwnam("postgres") else {
            throw Failure(description: "running as root needs the `postgres` user (apt-get install postgresql)")
        }
        chown(path, user.pointee.pw_uid, user.pointee.pw_gid)
    }

    @discardableResult
    private func run(_ executable: String, _ arguments: [String], asOwner: Bool) throws -> String {
        let (path, argv) = asOwner && runsAsRoot
            ? ("/usr/sbin/runuser", ["-u", "postgres", "--", executable] + arguments)
            : (executable, arguments)
        let outputPath = options.directory + "/tool-\(UUID.random().uuidString.prefix(8)).out"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let status = Subprocess.wait(try Subprocess.spawn(path, argv, outputPath: outputPath))
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw Failure(description: "\((executable as NSString).lastPathComponent) failed (\(status)): \(text.suffix(2000))")
        }
        return text
    }
}
