import Foundation
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import Logging
import Testing

/// First start: the platform organization and its administrator from configuration, once, however
/// many instances start together; the signing key; production mode's refusals.
@Suite("Identity: bootstrap and settings", .serialized)
struct BootstrapTests {
    static func count(_ pool: PostgresPool, _ sql: SQL) async throws -> Int {
        try await pool.query(sql).single().decode(Int.self, "n")
    }

    @Test func instancesStartingTogetherBootstrapThePlatformOnce() async throws {
        let (pool, _) = try await TestDatabase.fresh(maximumConnections: 20)
        _ = try await MigrationRunner.migrate(Database.migrations, pool: pool)
        let servers = try await withThrowingTaskGroup(of: TestServer.self) { group in
            for _ in 0..<3 { group.addTask { try await TestServer.start(pool: pool) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let restarted = try await TestServer.start(pool: pool) { $0.identity.bootstrap.adminEmail = "someone-else@karokar.test" }
        #expect(try await Self.count(pool, "SELECT count(*) AS n FROM identity.organizations WHERE type = 'PLATFORM' AND status = 'ACTIVE'") == 1)
        #expect(try await Self.count(pool, "SELECT count(*) AS n FROM identity.users") == 1)
        #expect(try await Self.count(pool, "SELECT count(*) AS n FROM identity.membership_details WHERE role_name = 'PLATFORM_ADMIN' AND status = 'ACTIVE'") == 1)
        #expect(try await Self.count(pool, "SELECT count(*) AS n FROM karokar_events.outbox WHERE event_type = 'organization.registered'") == 1)
        #expect(try await Self.count(pool, "SELECT count(*) AS n FROM administration.organizations WHERE organization_type = 'PLATFORM' AND status = 'ACTIVE'") == 1)
        #expect(try await Self.count(pool, "SELECT count(*) AS n FROM administration.approvals") == 0, "the platform needs no approval")
        let client = restarted.client()
        let login = try await IdentityV1.IdentityService.Client(client).login(
            IdentityV1.LoginRequest(email: TestIdentity.adminEmail, password: TestIdentity.adminPassword)
        )
        #expect(!login.grant!.accessToken.isEmpty)
        await client.close()
        for server in servers + [restarted] { await server.stop() }
        await pool.close()
    }

    @Test func withoutAConfiguredKeyInstancesShareOneGeneratedInTheDatabase() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        _ = try await MigrationRunner.migrate(Database.migrations, pool: pool)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("karokar-bootstrap-\(UUID().uuidString)").path
        let development: (inout ServerSettings) -> Void = { settings in
            settings.identity.tokenSigningKey = nil
            settings.identity.bootstrap.adminPassword = nil
            settings.identity.bootstrap.generatedPasswordFile = directory + "/bootstrap-admin-password"
        }
        let first = try await TestServer.start(pool: pool, development)
        let second = try await TestServer.start(pool: pool, development)
        #expect(try await Self.count(pool, "SELECT count(*) AS n FROM identity.signing_keys") == 1)
        let file = directory + "/bootstrap-admin-password"
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let password = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .newlines)
        let one = first.client()
        let two = second.client()
        let grant = try await IdentityV1.IdentityService.Client(one).login(IdentityV1.LoginRequest(email: TestIdentity.adminEmail, password: password)).grant!
        let me = try await IdentityV1.IdentityService.Client(two).whoAmI(
            IdentityV1.WhoAmIRequest(), options: TestSession(accessToken: grant.accessToken, userID: "", organizationID: "").callOptions
        )
        #expect(me.membership?.roleName == "PLATFORM_ADMIN", "a token from one instance works on the other")
        await one.close()
        await two.close()
        await first.stop()
        await second.stop()
        await pool.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func resolve(_ flags: [String: String] = [:], _ environment: [String: String] = [:], files: [String: String] = [:]) throws -> ServerSettings {
        try ServerSettings.resolve(flags: flags, environment: environment, configFile: nil) { path in
            guard let text = files[path] else { throw CocoaError(.fileNoSuchFile) }
            return Array(text.utf8)
        }
    }

    static func refusal(_ flags: [String: String] = [:], _ environment: [String: String] = [:], files: [String: String] = [:]) -> String? {
        do {
            _ = try resolve(flags, environment, files: files)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func productionModeRefusesDevelopmentShortcutsAndSecretsComeFromEnvironmentOrFiles() throws {
        let key = Data(repeating: 7, count: 32).base64EncodedString()
        let production = ["KAROKAR_PRODUCTION_MODE": "true"]
        #expect(Self.refusal([:], production)?.contains("token-signing-key") == true)
        #expect(Self.refusal([:], production.merging(["KAROKAR_TOKEN_SIGNING_KEY": key]) { $1 })?.contains("bootstrap-admin-password") == true)
        let full = production.merging(["KAROKAR_TOKEN_SIGNING_KEY": key, "KAROKAR_BOOTSTRAP_ADMIN_PASSWORD": "a strong enough passphrase"]) { $1 }
        let settings = try Self.resolve([:], full)
        #expect(settings.identity.productionMode && settings.identity.tokenSigningKey == Array(repeating: 7, count: 32))
        #expect(Self.refusal(["password-hash-cost": "14"], full)?.contains("password-hash-cost") == true)
        let fromFiles = try Self.resolve(
            ["token-signing-key-file": "/run/secrets/key", "bootstrap-admin-password-file": "/run/secrets/password"], production,
            files: ["/run/secrets/key": key + "\n", "/run/secrets/password": "a strong enough passphrase\n"]
        )
        #expect(fromFiles.identity.bootstrap.adminPassword == "a strong enough passphrase")
        #expect(Self.refusal(["bootstrap-admin-password-file": "/run/secrets/password"], full, files: ["/run/secrets/password": "x"])?
            .contains("not both") == true)
        let short = Self.refusal([:], ["KAROKAR_TOKEN_SIGNING_KEY": Data(repeating: 1, count: 16).base64EncodedString()])
        #expect(short?.contains("32 bytes") == true)
        #expect(Self.refusal(["token-algorithm": "none"]) != nil)
        #expect(Self.refusal(["token-signing-key-file": "/missing"])?.contains("cannot read") == true)
        let secret = "do-not-print-this-secret!!"
        #expect(Self.refusal(["token-signing-key": secret])?.contains(secret) == false, "errors never echo a secret")
        #expect(Self.refusal([:], ["KAROKAR_TOKEN_SIGNING_KEY": secret])?.contains(secret) == false, "errors never echo a secret")
    }

    @Test func aWeakConfiguredPasswordStopsTheServerBeforeItServes() async throws {
        let (pool, _) = try await TestDatabase.fresh()
        _ = try await MigrationRunner.migrate(Database.migrations, pool: pool)
        var settings = ServerSettings()
        settings.port = 0
        TestIdentity.configure(&settings)
        settings.identity.bootstrap.adminPassword = "password"
        let application = KaroKarApplication(settings: settings, pool: pool, group: TestServer.group, logger: Logger(label: "bootstrap-test"))
        await #expect(throws: (any Error).self) { try await application.start() }
        #expect(try await Self.count(pool, "SELECT count(*) AS n FROM identity.organizations") == 0)
        await pool.close()
    }
}
