import Foundation
public import KaroKarKernel
public import KaroKarPostgres
public import KaroKarRPC
public import KaroKarServer
public import NIOCore
import Logging
import NIOPosix
public import Tracing

/// The real server (the same composition root as `karokar-server`) on a free loopback port.
public struct TestServer: Sendable {
    public let application: KaroKarApplication
    public let address: SocketAddress
    public let group: any EventLoopGroup
    /// The database the server runs on, when started with one.
    public let pool: PostgresPool?
    /// The server created `pool` (``startWithDatabase(clock:background:tracer:_:)``) and closes it
    /// when it stops; a pool passed in belongs to the caller. Unclosed pools keep their
    /// connections open until the test process exits, and every suite shares one cluster.
    private let ownsPool: Bool
    private let background: Task<Void, Never>?

    public static let group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton

    /// Only the built-in services, no database; on `group` (the shared loops unless a test that
    /// loads them heavily brings its own).
    public static func start(
        group: any EventLoopGroup = TestServer.group, _ configure: (inout ServerSettings) -> Void = { _ in }
    ) async throws -> TestServer {
        try await start(pool: nil, group: group, configure)
    }

    /// Every bounded context on a fresh, migrated database of the test cluster, with the event relay running.
    /// `background: false` leaves the event relay and the contexts' sweeps off (for tests that
    /// count what the calls alone do to the database).
    /// `tracer`: the server and its pool trace with it (README, "Tracing").
    public static func startWithDatabase(
        clock: any WallClock = SystemClock(), background: Bool = true, tracer: (any Tracer)? = nil,
        _ configure: (inout ServerSettings) -> Void = { _ in }
    ) async throws -> TestServer {
        let (pool, _) = try await TestDatabase.fresh(tracer: tracer)
        do {
            _ = try await MigrationRunner.migrate(Database.migrations, pool: pool)
            let server = try await start(pool: pool, clock: clock, background: background, configure)
            return TestServer(
                application: server.application, address: server.address, group: server.group, pool: pool, ownsPool: true,
                background: server.background
            )
        } catch {
            await pool.close()
            throw error
        }
    }

    /// A server on `pool`, already migrated (e.g. a second server process on the same database).
    public static func start(
        pool: PostgresPool?, clock: any WallClock = SystemClock(), background: Bool = true, group: any EventLoopGroup = TestServer.group,
        tracer: (any Tracer)? = nil, _ configure: (inout ServerSettings) -> Void = { _ in }
    ) async throws -> TestServer {
        var settings = ServerSettings()
        settings.port = 0
        TestIdentity.configure(&settings)
        configure(&settings)
        var logger = Logger(label: "test-server")
        // KAROKAR_TEST_LOG_LEVEL (e.g. `notice`) shows more of what the test servers do.
        logger.logLevel = ProcessInfo.processInfo.environment["KAROKAR_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        let application = KaroKarApplication(settings: settings, pool: pool, clock: clock, group: group, logger: logger, tracer: tracer)
        let address = try await application.start()
        let background = pool == nil || !background ? nil : Task { await application.runBackgroundWork() }
        return TestServer(application: application, address: address, group: group, pool: pool, ownsPool: false, background: background)
    }

    public var port: Int { address.port! }

    /// A client library connection to this server.
    public func client(_ configure: (inout RPCClient.Configuration) -> Void = { _ in }) -> RPCClient {
        var configuration = RPCClient.Configuration(host: "127.0.0.1", port: port)
        configure(&configuration)
        return RPCClient(configuration: configuration, group: group)
    }

    public func raw() async throws -> RawConnection {
        try await RawConnection.connect(to: address, group: group)
    }

    public func stop() async {
        await application.server.close()
        background?.cancel()
        await background?.value
        if ownsPool { await pool?.close() }
    }
}
