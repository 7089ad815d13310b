import Foundation
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import Logging
import NIOCore
import NIOPosix
import Testing

/// A real pgbouncer (Debian package, Deploy/install-deps.sh) in front of the test cluster, with
/// two pools: `karokar_session` (pool_mode=session) and `karokar_transaction`. The client side
/// authenticates with SCRAM and a password; pgbouncer reaches PostgreSQL over its socket.
final class PgBouncer: @unchecked Sendable {
    static let password = "pgbouncer-secret"
    let process = Process()
    let directory: String
    let port: Int

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(backend conninfo: String) async throws {
        func field(_ name: String) throws -> String {
            guard let part = conninfo.split(separator: " ").first(where: { $0.hasPrefix(name + "=") }) else {
                throw Failure(description: "no \(name) in \(conninfo)")
            }
            return String(part.dropFirst(name.count + 1))
        }
        let (host, backendPort, database) = (try field("host"), try field("port"), try field("dbname"))
        directory = "/tmp/karokar-pgbouncer-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        port = try await Self.freePort()
        let backend = "host=\(host) port=\(backendPort) dbname=\(database) user=\(EmbeddedPostgres.superuser)"
        let configuration = """
            [databases]
            karokar_session = \(backend) pool_mode=session
            karokar_transaction = \(backend) pool_mode=transaction

            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = \(port)
            unix_socket_dir =
            auth_type = scram-sha-256
            auth_file = \(directory)/userlist.txt
            max_client_conn = 200
            default_pool_size = 40
            server_reset_query = DISCARD ALL
            logfile = \(directory)/pgbouncer.log
            """
        try configuration.write(toFile: directory + "/pgbouncer.ini", atomically: true, encoding: .utf8)
        try "\"\(EmbeddedPostgres.superuser)\" \"\(Self.password)\"\n".write(toFile: directory + "/userlist.txt", atomically: true, encoding: .utf8)
        for file in ["pgbouncer.ini", "userlist.txt"] {
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: directory + "/" + file)
        }
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/pgbouncer")
        // pgbouncer refuses to run as root; the cluster's own user (postgres) can reach its socket.
        process.arguments = (getuid() == 0 ? ["-u", "postgres"] : []) + [directory + "/pgbouncer.ini"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let started = ContinuousClock.now
        while !(await Self.accepts(port: port)) {
            guard ChildExit.isRunning(process), ContinuousClock.now - started < .seconds(20) else {
                throw Failure(description: "pgbouncer did not start: \(log)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    var log: String { (try? String(contentsOfFile: directory + "/pgbouncer.log", encoding: .utf8)) ?? "" }

    func url(_ database: String) -> String { "postgresql://\(EmbeddedPostgres.superuser)@127.0.0.1:\(port)/\(database)" }

    func stop() {
        if ChildExit.isRunning(process) {
            // pgbouncer 1.18 waits for its clients on SIGTERM; the test is done with it.
            kill(process.processIdentifier, SIGKILL)
            ChildExit.wait(process, timeout: .seconds(30))
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }

    private static func accepts(port: Int) async -> Bool {
        guard let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port).get() else { return false }
        try? await channel.close()
        return true
    }
}

@Suite("Through pgbouncer", .serialized)
struct PgBouncerTests {
    static func settings(url: String, password: String = PgBouncer.password) throws -> ServerSettings {
        // As an operator would: the URL and the password from the environment.
        var settings = try ServerSettings.resolve(
            flags: ["port": "0"], environment: ["KAROKAR_DATABASE_URL": url, "KAROKAR_DATABASE_PASSWORD": password], configFile: nil
        ) { _ in [] }
        TestIdentity.configure(&settings)
        return settings
    }

    @Test("session mode: migrations, prepared statements, LISTEN/NOTIFY, UTC timestamps and real calls work")
    func sessionMode() async throws {
        let (pool, conninfo) = try await TestDatabase.fresh()
        let bouncer = try await PgBouncer(backend: conninfo)
        defer { bouncer.stop() }
        let logger = Logger(label: "pgbouncer-test")
        let settings = try Self.settings(url: bouncer.url("karokar_session"))
        let database = try await Database.open(settings, logger: logger)
        #expect(try await database.migrate(logger: logger) > 0, "the migrations' session lock holds through pgbouncer")
        // pgbouncer refuses the `options` startup parameter; the connection sets them itself.
        let zone = try await database.pool.query("SELECT current_setting('TimeZone') AS zone, current_setting('DateStyle') AS style").single()
        #expect(try zone.decode(String.self, "zone") == "UTC")
        #expect(try zone.decode(String.self, "style").hasPrefix("ISO"))

        let listener = PostgresListener(connectionString: database.pool.configuration.connectionString, channels: ["karokar_probe"])
        _ = try await listener.wait(timeout: .milliseconds(10))  // connects and LISTENs
        try await database.pool.query("NOTIFY karokar_probe")
        var heard: [String] = []
        let started = ContinuousClock.now
        while heard.isEmpty, ContinuousClock.now - started < .seconds(10) {
            heard = try await listener.wait(timeout: .milliseconds(500))
        }
        #expect(heard == ["karokar_probe"], "LISTEN works through pgbouncer in session mode")
        await listener.close()

        let application = KaroKarApplication(settings: settings, pool: database.pool, group: TestServer.group, logger: logger)
        let address = try await application.start()
        let client = RPCClient(configuration: .init(host: "127.0.0.1", port: address.port!), group: TestServer.group)
        let identity = IdentityV1.IdentityService.Client(client)
        for _ in 0..<3 {  // the same statements again, prepared on the pooled connections
            let grant = try #require(try await identity.login(.init(email: TestIdentity.adminEmail, password: TestIdentity.adminPassword)).grant)
            let me = try await identity.whoAmI(.init(), options: CallOptions(metadata: Metadata([("authorization", "Bearer \(grant.accessToken)")])))
            #expect(me.user?.email == TestIdentity.adminEmail)
        }
        await client.close()
        await application.server.close()
        await database.close()
        await pool.close()
    }

    @Test("transaction mode is detected at start and refused with a message that says what to do")
    func transactionModeRefused() async throws {
        let (pool, conninfo) = try await TestDatabase.fresh()
        let bouncer = try await PgBouncer(backend: conninfo)
        defer { bouncer.stop() }
        do {
            let database = try await Database.open(try Self.settings(url: bouncer.url("karokar_transaction")), logger: Logger(label: "pgbouncer-test"))
            await database.close()
            Issue.record("the server started through pgbouncer in transaction mode")
        } catch {
            let message = "\(error)"
            #expect(message.hasPrefix("database-url leads to a connection pooler in transaction or statement mode ("), "\(message)")
            #expect(message.hasSuffix("KaroKar needs session pooling (pgbouncer pool_mode=session; Deploy/pgbouncer.md)"), "\(message)")
        }
        await pool.close()
    }

    @Test("a wrong database password is a clear start-up error")
    func wrongPassword() async throws {
        let (pool, conninfo) = try await TestDatabase.fresh()
        let bouncer = try await PgBouncer(backend: conninfo)
        defer { bouncer.stop() }
        await #expect {
            _ = try await Database.open(try Self.settings(url: bouncer.url("karokar_session"), password: "wrong"), logger: Logger(label: "pgbouncer-test"))
        } throws: { error in
            "\(error)".hasPrefix("cannot use the database: ") && "\(error)".contains("authentication failed") && !"\(error)".contains("wrong")
        }
        await pool.close()
    }
}
