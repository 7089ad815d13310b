import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing

@Suite("Lifecycle: the process's services in one ServiceGroup")
struct LifecycleTests {
    /// The executable's composition, in this process: an application on a fresh database with
    /// an admin server, as one service group.
    struct Process {
        let application: KaroKarApplication
        let admin: AdminServer
        let group: ServiceGroup
        let log: LogRecorder

        init(adminPort: Int = 0, drainDelay: Duration = .milliseconds(1_500)) async throws {
            let (pool, _) = try await TestDatabase.fresh()
            _ = try await MigrationRunner.migrate(Database.migrations, pool: pool)
            var settings = ServerSettings()
            settings.port = 0
            settings.operations.adminPort = adminPort
            settings.limits.drainDelay = drainDelay
            TestIdentity.configure(&settings)
            log = LogRecorder()
            let logger = log.logger(level: .info)
            application = KaroKarApplication(settings: settings, pool: pool, group: TestServer.group, logger: logger)
            admin = AdminServer(host: "127.0.0.1", port: adminPort, routes: application.adminRoutes, group: TestServer.group, logger: logger)
            group = ServiceGroup(configuration: application.serviceGroupConfiguration(database: Database(pool: pool), admin: admin))
        }

        /// The ports, from the log lines of the two listeners.
        func ports() async throws -> (rpc: Int, admin: Int) {
            var rpc: Int?
            var admin: Int?
            _ = try await eventually {
                for record in log.all {
                    if record.message == "listening", let address = record.metadata["address"] { rpc = Self.port(address) }
                    if record.message == "admin server listening", let address = record.metadata["admin-address"] { admin = Self.port(address) }
                }
                return rpc != nil && admin != nil
            }
            return (try #require(rpc), try #require(admin))
        }

        static func port(_ address: String) -> Int? {
            address.split(separator: ":").last.flatMap { Int($0) }
        }
    }

    @Test("graceful shutdown: readiness fails first, calls are served through the grace period, then DRAIN, then the rest stops in order")
    func gracefulShutdown() async throws {
        // A grace period of 5 s, not the default 1.5: between readiness turning false and the call
        // below, a loaded CI machine once took longer than 1.5 s (two HTTP exchanges), so the call
        // met a connection already drained and closed ("I/O on closed channel").
        let process = try await Process(drainDelay: .seconds(5))
        let running = Task { try await process.group.run() }
        let (rpcPort, adminPort) = try await process.ports()
        try #require(try await eventually { try await HTTP.get(port: adminPort, "/readyz").status == 200 })

        let raw = try await RawConnection.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: rpcPort), group: TestServer.group)
        try await raw.send(Frames.hello())
        _ = await raw.next()
        await process.group.triggerGracefulShutdown()
        try #require(try await eventually { try await HTTP.get(port: adminPort, "/readyz").status == 503 })
        #expect(try await HTTP.get(port: adminPort, "/readyz").body == "not ready: draining\n")
        // Still served during the grace period.
        try await raw.send(Frames.call(1, path: RPCV1.DiagnosticsService.Method.echo.path, RPCV1.EchoRequest(payload: [9])))
        guard case .frame(let reply)? = await raw.next(), reply.type == .reply else {
            Issue.record("expected the REPLY of a call made during the grace period")
            return
        }
        #expect(try Frames.decode(RPCV1.Reply.self, reply).status?.code ?? .ok == .ok)
        guard case .frame(let drain)? = await raw.next(timeout: .seconds(30)), drain.type == .drain else {
            Issue.record("expected DRAIN after the grace period")
            return
        }
        try await running.value
        let afterwards = try? await HTTP.get(port: adminPort, "/livez")
        #expect(afterwards == nil, "the admin server is closed once the group has stopped")
        let messages = process.log.all.map(\.message)
        let notReady = try #require(messages.firstIndex { $0.hasPrefix("shutting down: not ready") })
        let draining = try #require(messages.firstIndex(of: "draining"))
        #expect(notReady < draining)
    }

    @Test("a service that fails stops the group with its name in the error: the admin port is taken")
    func failingService() async throws {
        let blocker = AdminServer(
            host: "127.0.0.1", port: 0, routes: .init(notReadyReason: { nil }, metrics: nil), group: TestServer.group, logger: Logger(label: "blocker")
        )
        let taken = try await blocker.start().port!
        let process = try await Process(adminPort: taken)
        do {
            try await process.group.run()
            Issue.record("the group must fail")
        } catch let failure as ServiceFailure {
            #expect(failure.service == "admin server")
            #expect("\(failure)".hasPrefix("admin server failed: "))
        } catch {
            Issue.record("expected a ServiceFailure, got \(error)")
        }
        await blocker.close()
    }
}
