import Foundation
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import Logging
import NIOConcurrencyHelpers
import Testing

@Suite("Logs: JSON lines and the access log")
struct LogsTests {
    final class Lines: Sendable {
        private let box = NIOLockedValueBox<[String]>([])
        var all: [String] { box.withLockedValue { $0 } }
        func append(_ line: String) { box.withLockedValue { $0.append(line) } }
    }

    @Test("one JSON object per line, with the logger's and the line's metadata, escaped")
    func jsonLines() throws {
        let lines = Lines()
        var logger = Logger(label: "karokar-server") { label in JSONLogHandler(label: label, write: lines.append) }
        logger[metadataKey: "rpc.peer"] = "[IPv4]127.0.0.1:5000"
        logger.info("a \"quoted\"\nmessage", metadata: ["count": "3", "level": "shadowed", "nested": ["a": "b"]])
        logger.debug("below the level")
        #expect(lines.all.count == 1)
        let line = try #require(lines.all.first)
        #expect(line.hasSuffix("}\n"))
        #expect(line.dropLast().contains("\n") == false, "one line")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object["message"] == "a \"quoted\"\nmessage")
        #expect(object["level"] == "info")
        #expect(object["label"] == "karokar-server")
        #expect(object["rpc.peer"] == "[IPv4]127.0.0.1:5000")
        #expect(object["count"] == "3")
        #expect(object["metadata.level"] == "shadowed", "a fixed member is not overwritten")
        #expect(object["nested"] == #"["a": "b"]"#)
        #expect(object["timestamp"]?.hasSuffix("Z") == true)
        #expect(object["source"] != nil)
    }

    @Test("control characters are escaped")
    func escaping() throws {
        let lines = Lines()
        let logger = Logger(label: "x") { label in JSONLogHandler(label: label, write: lines.append) }
        logger.warning("bell \u{07} tab \t nul \u{00} line-separator \u{2028}")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(lines.all[0].utf8)) as? [String: String])
        #expect(object["message"] == "bell \u{07} tab \t nul \u{00} line-separator \u{2028}")
    }

    @Test("the access log: one info line per call with method, status, domain code, duration, organization and request id")
    func accessLog() async throws {
        let log = LogRecorder()
        let (pool, _) = try await TestDatabase.fresh()
        _ = try await MigrationRunner.migrate(Database.migrations, pool: pool)
        var settings = ServerSettings()
        settings.port = 0
        settings.operations.accessLog = true
        TestIdentity.configure(&settings)
        let application = KaroKarApplication(settings: settings, pool: pool, group: TestServer.group, logger: log.logger(level: .info))
        let address = try await application.start()
        let client = RPCClient(configuration: .init(host: "127.0.0.1", port: address.port!), group: TestServer.group)
        let identity = IdentityV1.IdentityService.Client(client)
        let grant = try await identity.login(.init(email: TestIdentity.adminEmail, password: TestIdentity.adminPassword)).grant!
        let options = CallOptions(metadata: Metadata([("authorization", "Bearer \(grant.accessToken)"), ("request-id", "req-42")]))
        let me = try await identity.whoAmI(.init(), options: options)
        _ = try await RPCV1.DiagnosticsService.Client(client).echo(.init(payload: [1]), options: CallOptions(metadata: Metadata([("request-id", "echo-1")])))
        let refused = await #expect(throws: RPCError.self) {
            _ = try await identity.getOrganization(.init(organizationId: UUID().uuidString.lowercased()), options: options)
        }
        let calls = log.all.filter { $0.message == "call" }
        let login = try #require(calls.first { $0.metadata["rpc.method"] == IdentityV1.IdentityService.Method.login.path })
        #expect(login.level == .info)
        #expect(login.metadata["rpc.code"] == "OK")
        #expect(Double(login.metadata["duration_ms"] ?? "") != nil)
        #expect(login.metadata["organization"] == nil, "login is called without credentials")
        let whoAmI = try #require(calls.first { $0.metadata["rpc.method"] == IdentityV1.IdentityService.Method.whoAmI.path })
        #expect(whoAmI.metadata["request_id"] == "req-42")
        #expect(whoAmI.metadata["organization"] == me.organization?.id)
        let echo = try #require(calls.first { $0.metadata["rpc.method"] == RPCV1.DiagnosticsService.Method.echo.path })
        #expect(echo.metadata["request_id"] == "echo-1")
        let missing = try #require(calls.first { $0.metadata["rpc.method"] == IdentityV1.IdentityService.Method.getOrganization.path })
        #expect(missing.metadata["rpc.code"] == "NOT_FOUND")
        #expect(refused?.code == .notFound)
        #expect(missing.metadata["rpc.domain_code"] == refused?.domainCode, "\(missing.metadata)")
        await client.close()
        await application.server.close()
    }

    @Test("an outage: the client gets UNAVAILABLE without the cause; the log gets the cause, once per 10 s, not once per call")
    func outageIsLoggedWithItsCause() async throws {
        let log = LogRecorder()
        let cluster = try await EmbeddedPostgres.start(TestDatabase.throwawayOptions(name: "logs-outage"))
        try await cluster.createDatabase("karokar")
        var configuration = PostgresPool.Configuration(connectionString: cluster.connectionString(database: "karokar"))
        configuration.acquireTimeout = .seconds(1)
        let pool = PostgresPool(configuration: configuration)
        _ = try await MigrationRunner.migrate(Database.migrations, pool: pool)
        var settings = ServerSettings()
        settings.port = 0
        TestIdentity.configure(&settings)
        let application = KaroKarApplication(settings: settings, pool: pool, group: TestServer.group, logger: log.logger(level: .warning))
        let address = try await application.start()
        let client = RPCClient(configuration: .init(host: "127.0.0.1", port: address.port!), group: TestServer.group)
        let identity = IdentityV1.IdentityService.Client(client)
        _ = try await identity.login(.init(email: TestIdentity.adminEmail, password: TestIdentity.adminPassword))

        try await cluster.pause()
        for _ in 0..<3 {
            let failure = await #expect(throws: RPCError.self) {
                _ = try await identity.login(.init(email: TestIdentity.adminEmail, password: TestIdentity.adminPassword))
            }
            #expect(failure?.code == .unavailable && failure?.domainCode == "DATABASE_UNAVAILABLE", "\(String(describing: failure))")
            #expect(failure?.message.contains("PostgreSQL") != true && failure?.message.contains("socket") != true, "no cause sent")
        }
        let outages = log.all.filter { $0.message == "call failed: a dependency is unavailable" }
        #expect(outages.count == 1, "\(outages)")
        #expect(outages.first?.level == .warning)
        #expect(outages.first?.metadata["error.type"].map { "\($0)" } == "PostgresError")
        // libpq's own words about the connection, so an operator can tell one outage from another.
        let cause = outages.first?.metadata["error.description"].map { "\($0)" } ?? ""
        #expect(cause.hasPrefix("PostgreSQL error 08") && cause.count > "PostgreSQL error 08000: ".count, "\(cause)")

        await client.close()
        await application.server.close()
        await pool.close()
        await cluster.stop()
    }
}
