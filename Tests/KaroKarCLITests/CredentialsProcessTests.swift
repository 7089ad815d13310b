import Foundation
import KaroKarRPC
import KaroKarRPCServer
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import KaroKarToolSupport
import Logging
import NIOCore
import Testing

extension ToolProcesses {
    /// Which credentials `karokar` sends: a server whose interceptor records each call's
    /// `authorization` metadata.
    @Suite("karokar credentials: login, stored token, overrides")
    struct CredentialsProcessTests {
        struct RecordAuthorization: ServerInterceptor {
            let seen: LockedStrings

            func intercept(context: ServerCallContext, next: (ServerCallContext) async throws -> ByteBuffer) async throws -> ByteBuffer {
                seen.append(context.metadata[Metadata.Key.authorization] ?? "<none>")
                return try await next(context)
            }
        }

        private func startServer(recording seen: LockedStrings) async throws -> (RPCServer, Int) {
            var configuration = RPCServer.Configuration()
            configuration.port = 0
            configuration.services = [DiagnosticsService().serviceDefinition()]
            configuration.interceptors = [RecordAuthorization(seen: seen)]
            var logger = Logger(label: "credentials-test")
            logger.logLevel = .critical
            let server = RPCServer(configuration: configuration, group: TestServer.group, logger: logger)
            let address = try await server.start()
            return (server, try #require(address.port))
        }

        private func echo(port: Int, config: ScratchDirectory, _ extra: [String] = [], environment: [String: String] = [:]) async throws -> Int32 {
            let arguments = ["call", "karokar.rpc.v1.DiagnosticsService/Echo", "--address", "127.0.0.1:\(port)"] + extra
            return try await ToolProcess.run("karokar", arguments, environment: environment.merging(["XDG_CONFIG_HOME": config.path]) { a, _ in a }).status
        }

        @Test func storedTokenIsSentAndOverridesWin() async throws {
            let seen = LockedStrings()
            let (server, port) = try await startServer(recording: seen)
            let config = try ScratchDirectory()
            defer { config.remove() }
            #expect(try await echo(port: port, config: config) == 0)
            let store = try CredentialStore(environment: ["XDG_CONFIG_HOME": config.path])
            try store.save(StoredCredentials(accessToken: "stored-token"), for: ServerAddress(host: "127.0.0.1", port: port))
            #expect(try await echo(port: port, config: config) == 0)
            #expect(try await echo(port: port, config: config, environment: ["KAROKAR_TOKEN": "env-token"]) == 0)
            #expect(try await echo(port: port, config: config, ["--token", "flag-token"], environment: ["KAROKAR_TOKEN": "env-token"]) == 0)
            #expect(try await echo(port: port, config: config, ["-H", "authorization: Basic xyz", "--token", "flag-token"]) == 0)
            #expect(seen.all == ["<none>", "Bearer stored-token", "Bearer env-token", "Bearer flag-token", "Basic xyz"])
            await server.close()
        }

        /// This server does not host IdentityService (yet): login reports UNIMPLEMENTED and stores nothing.
        @Test func loginToAServerWithoutIdentityStoresNothing() async throws {
            let server = try await TestServer.start()
            let config = try ScratchDirectory()
            defer { config.remove() }
            let login = try await ToolProcess.run(
                "karokar", ["login", "--email", "a@example.com", "--password-stdin", "--address", "127.0.0.1:\(server.port)"],
                environment: ["XDG_CONFIG_HOME": config.path], stdin: "secret\n"
            )
            #expect(login.status == 64 + 12)
            #expect(login.stderr.contains("UNIMPLEMENTED") && login.stderr.contains("IdentityService/Login"))
            #expect(!FileManager.default.fileExists(atPath: config.path + "/karokar/credentials.json"))
            let noTerminal = try await ToolProcess.run(
                "karokar", ["login", "--email", "a@example.com", "--address", "127.0.0.1:\(server.port)"], environment: ["XDG_CONFIG_HOME": config.path]
            )
            #expect(noTerminal.status == 1 && noTerminal.stderr.contains("--password-stdin"))
            await server.stop()
        }

        @Test func logoutForgetsTheTokenEvenIfTheServerCannotRevokeIt() async throws {
            let server = try await TestServer.start()
            let config = try ScratchDirectory()
            defer { config.remove() }
            let address = ServerAddress(host: "127.0.0.1", port: server.port)
            let store = try CredentialStore(environment: ["XDG_CONFIG_HOME": config.path])
            try store.save(StoredCredentials(accessToken: "a", refreshToken: "r"), for: address)
            let logout = try await ToolProcess.run("karokar", ["logout", "--address", address.description], environment: ["XDG_CONFIG_HOME": config.path])
            #expect(logout.status == 0 && logout.stdout.contains("forgot the token"))
            #expect(logout.stderr.contains("warning: the server did not revoke the refresh token: UNIMPLEMENTED"))
            #expect(try store.credentials(for: address) == nil)
            await server.stop()
        }
    }
}
