import Foundation
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import Logging
import Testing

/// TLS on the RPC port, with real handshakes over loopback against certificates made for the test.
@Suite("TLS on the RPC port", .serialized)
struct TLSTests {
    static let pki: Result<TestCertificates, any Error> = Result(catching: { try TestCertificates.make() })

    static func certificates() throws -> TestCertificates { try pki.get() }

    /// The server's TLS from its settings, as `karokar-server` resolves them (files read from disk).
    static func serverTLS(
        _ pki: TestCertificates, certificate: String = "server", clientCA: String? = nil, key: String? = nil, environment: [String: String] = [:]
    ) throws -> TLSOptions {
        var flags = ["tls-certificate-file": pki.certificate(certificate), "tls-key-file": key ?? pki.key(certificate)]
        if let clientCA { flags["tls-client-ca-file"] = pki.certificate(clientCA) }
        return try ServerSettings.resolve(flags: flags, environment: environment, configFile: nil) { try RPCTLS.readFile($0) }.tls
    }

    static func clientTLS(_ pki: TestCertificates, trusting ca: String = "ca", as identity: String? = nil, serverName: String? = nil) throws -> RPCClientTLS {
        var chain: RPCTLS.PEMFile?
        var key: RPCTLS.PEMFile?
        if let identity {
            chain = try RPCTLS.PEMFile.read(pki.certificate(identity), setting: "--tls-cert")
            key = try RPCTLS.PEMFile.read(pki.key(identity), setting: "--tls-key")
        }
        let context = try RPCTLS.clientContext(
            trustRoots: try RPCTLS.PEMFile.read(pki.certificate(ca), setting: "--tls-ca"), certificateChain: chain, privateKey: key
        )
        return RPCClientTLS(context: context, serverHostname: serverName)
    }

    /// The error of one Echo call, or nil when it succeeded; within a bound (no hang).
    static func echoError(_ client: RPCClient) async -> RPCError? {
        let started = ContinuousClock.now
        defer { #expect(ContinuousClock.now - started < .seconds(15), "a refused connection fails fast") }
        do {
            _ = try await RPCV1.DiagnosticsService.Client(client).echo(.init(payload: [7]), options: CallOptions(timeout: .seconds(10)))
            return nil
        } catch let error as RPCError {
            return error
        } catch {
            return RPCError(.unknown, "not an RPCError: \(error)")
        }
    }

    @Test("Echo, a large payload, an error status and pings of the frames are unchanged inside TLS")
    func framesOverTLS() async throws {
        let pki = try Self.certificates()
        let tls = try Self.serverTLS(pki)
        let server = try await TestServer.start { $0.tls = tls }
        let client = server.client { $0.tls = try? Self.clientTLS(pki) }
        let echo = RPCV1.DiagnosticsService.Client(client)
        #expect(try await echo.echo(.init(payload: [1, 2, 3])).payload == [1, 2, 3])
        // Larger than a TLS record (16 KiB): one frame over several records.
        let large = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(try await echo.echo(.init(payload: large)).payload == large)
        // Many calls in flight on one connection.
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<100 {
                group.addTask { try await echo.echo(.init(payload: [UInt8(index)])).payload == [UInt8(index)] }
            }
            for try await matched in group { #expect(matched) }
        }
        await #expect {
            _ = try await client.call(path: "/karokar.nothing.v1.Nothing/Nothing", payload: [], options: CallOptions())
        } throws: { error in
            (error as? RPCError)?.code == .unimplemented
        }
        // The raw frames of a plain connection are refused: the port speaks only TLS.
        #expect(await Self.echoError(server.client()) != nil)
        await client.close()
        await server.stop()
    }

    @Test("a real RPC over TLS: the platform administrator signs in and asks who they are")
    func realCallOverTLS() async throws {
        let pki = try Self.certificates()
        let tls = try Self.serverTLS(pki)
        let server = try await TestServer.startWithDatabase(background: false) { $0.tls = tls }
        let client = server.client { $0.tls = try? Self.clientTLS(pki) }
        let identity = IdentityV1.IdentityService.Client(client)
        let grant = try #require(try await identity.login(.init(email: TestIdentity.adminEmail, password: TestIdentity.adminPassword)).grant)
        let me = try await identity.whoAmI(.init(), options: CallOptions(metadata: Metadata([("authorization", "Bearer \(grant.accessToken)")])))
        #expect(me.user?.email == TestIdentity.adminEmail)
        await #expect {
            _ = try await identity.whoAmI(.init(), options: CallOptions(metadata: Metadata([("authorization", "Bearer forged")])))
        } throws: { error in
            (error as? RPCError)?.code == .unauthenticated
        }
        await client.close()
        await server.stop()
        await server.pool?.close()
    }

    @Test("a plain client, a client trusting another CA, a wrong server name: UNAVAILABLE, no hang")
    func refusedClients() async throws {
        let pki = try Self.certificates()
        // A certificate for the name localhost only (no IP address).
        let tls = try Self.serverTLS(pki, certificate: "named")
        let server = try await TestServer.start { $0.tls = tls }

        let plain = server.client { $0.maximumRetries = 0 }
        #expect(await Self.echoError(plain)?.code == .unavailable)
        await plain.close()

        let wrongCA = server.client { $0.tls = try? Self.clientTLS(pki, trusting: "other-ca") }
        let refused = await Self.echoError(wrongCA)
        #expect(refused?.code == .unavailable)
        #expect(refused?.message.contains("TLS handshake failed") == true, "\(String(describing: refused))")
        await wrongCA.close()

        let wrongName = server.client { $0.tls = try? Self.clientTLS(pki, serverName: "billing.example") }
        #expect(await Self.echoError(wrongName)?.code == .unavailable, "the certificate is for localhost")
        await wrongName.close()

        let byAddress = server.client { $0.tls = try? Self.clientTLS(pki) }
        #expect(await Self.echoError(byAddress)?.code == .unavailable, "127.0.0.1 is not in the certificate")
        await byAddress.close()

        let rightName = server.client { $0.tls = try? Self.clientTLS(pki, serverName: "localhost") }
        #expect(await Self.echoError(rightName) == nil)
        await rightName.close()
        #expect(try await eventually { server.application.server.connectionCount <= 1 }, "refused connections are closed")
        await server.stop()
    }

    @Test("a TLS client against a plain server fails cleanly")
    func tlsClientPlainServer() async throws {
        let pki = try Self.certificates()
        let server = try await TestServer.start()
        let client = server.client { $0.tls = try? Self.clientTLS(pki) }
        let refused = await Self.echoError(client)
        #expect(refused?.code == .unavailable)
        #expect(refused?.message.contains("TLS handshake failed") == true, "\(String(describing: refused))")
        await client.close()
        await server.stop()
    }

    @Test("mutual TLS: no certificate or one from another CA is refused; a verified one works, its identity in the logs")
    func mutualTLS() async throws {
        let pki = try Self.certificates()
        let tls = try Self.serverTLS(pki, clientCA: "ca")
        #expect(tls.requiresClientCertificate)
        let log = LogRecorder()
        var settings = ServerSettings()
        settings.port = 0
        settings.tls = tls
        settings.operations.accessLog = true
        TestIdentity.configure(&settings)
        let application = KaroKarApplication(settings: settings, pool: nil, group: TestServer.group, logger: log.logger(level: .info))
        let address = try await application.start()
        func client(_ tls: RPCClientTLS?) -> RPCClient {
            var configuration = RPCClient.Configuration(host: "127.0.0.1", port: address.port!)
            configuration.tls = tls
            configuration.maximumRetries = 0
            return RPCClient(configuration: configuration, group: TestServer.group)
        }

        let anonymous = client(try Self.clientTLS(pki))
        #expect(await Self.echoError(anonymous)?.code == .unavailable, "no client certificate")
        await anonymous.close()
        let stranger = client(try Self.clientTLS(pki, as: "stranger"))
        #expect(await Self.echoError(stranger)?.code == .unavailable, "a certificate of another CA")
        await stranger.close()
        let plain = client(nil)
        #expect(await Self.echoError(plain)?.code == .unavailable)
        await plain.close()

        let billing = client(try Self.clientTLS(pki, as: "client"))
        #expect(await Self.echoError(billing) == nil)
        await billing.close()
        let calls = log.all.filter { $0.message == "call" }
        #expect(calls.count == 1, "only the verified client's call was served: \(calls.map(\.metadata))")
        #expect(calls.first?.metadata["rpc.tls.client"]?.hasPrefix("CN=billing") == true, "\(calls.first?.metadata ?? [:])")
        await application.server.close()
    }

    @Test("an encrypted key with its passphrase from the environment or a file; never from a flag")
    func encryptedKey() async throws {
        let pki = try Self.certificates()
        let encrypted = pki.directory + "/server-encrypted.key"
        let tls = try Self.serverTLS(pki, key: encrypted, environment: ["KAROKAR_TLS_KEY_PASSPHRASE": "hunter2"])
        let server = try await TestServer.start { $0.tls = tls }
        let client = server.client { $0.tls = try? Self.clientTLS(pki) }
        #expect(await Self.echoError(client) == nil)
        await client.close()
        await server.stop()

        let passphraseFile = pki.directory + "/passphrase"
        try "hunter2\n".write(toFile: passphraseFile, atomically: true, encoding: .utf8)
        #expect(try Self.serverTLS(pki, key: encrypted, environment: ["KAROKAR_TLS_KEY_PASSPHRASE_FILE": passphraseFile]).context != nil)
    }

    static func refusal(_ flags: [String: String], _ environment: [String: String] = [:]) -> String {
        do {
            _ = try ServerSettings.resolve(flags: flags, environment: environment, configFile: nil) { try RPCTLS.readFile($0) }
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test("every bad TLS setting stops the start with a message naming the setting and the file")
    func badSettings() throws {
        let pki = try Self.certificates()
        let (certificate, key) = (pki.certificate("server"), pki.key("server"))
        let missing = pki.directory + "/missing.pem"
        #expect(Self.refusal(["tls-certificate-file": missing, "tls-key-file": key])
            == "tls-certificate-file \(missing): cannot read it (No such file or directory)")
        #expect(Self.refusal(["tls-certificate-file": certificate, "tls-key-file": missing])
            == "tls-key-file \(missing): cannot read it (No such file or directory)")
        #expect(Self.refusal(["tls-certificate-file": certificate, "tls-key-file": pki.directory])
            == "tls-key-file \(pki.directory): cannot read it (Is a directory)")
        #expect(Self.refusal(["tls-certificate-file": key, "tls-key-file": key]) == "tls-certificate-file \(key): holds no PEM certificate")
        #expect(Self.refusal(["tls-certificate-file": certificate, "tls-key-file": certificate]) == "tls-key-file \(certificate): not a PEM private key")
        let mismatch = Self.refusal(["tls-certificate-file": certificate, "tls-key-file": pki.key("client")])
        #expect(mismatch.hasPrefix("tls-key-file \(pki.key("client")) does not match the certificate of tls-certificate-file \(certificate)"), "\(mismatch)")
        #expect(Self.refusal(["tls-certificate-file": certificate]) == "tls-certificate-file needs tls-key-file")
        #expect(Self.refusal(["tls-key-file": key]) == "tls-key-file needs tls-certificate-file")
        #expect(Self.refusal(["tls-client-ca-file": pki.certificate("ca")])
            == "tls-client-ca-file needs tls-certificate-file and tls-key-file (mutual TLS is TLS)")
        #expect(Self.refusal(["tls-certificate-file": certificate, "tls-key-file": key, "tls-client-ca-file": key])
            == "tls-client-ca-file \(key): holds no PEM certificate")
        let encrypted = pki.directory + "/server-encrypted.key"
        #expect(Self.refusal(["tls-certificate-file": certificate, "tls-key-file": encrypted])
            == "tls-key-file \(encrypted): the key is encrypted and no passphrase is configured")
        #expect(Self.refusal(["tls-certificate-file": certificate, "tls-key-file": encrypted], ["KAROKAR_TLS_KEY_PASSPHRASE": "wrong-guess"])
            == "tls-key-file \(encrypted): cannot decrypt the key (wrong passphrase?)")
        #expect(Self.refusal(["tls-certificate-file": certificate, "tls-key-file": encrypted, "tls-key-passphrase": "hunter2"])
            == "--tls-key-passphrase: a secret is never a flag (it would show in the process list): use KAROKAR_TLS_KEY_PASSPHRASE or tls-key-passphrase-file")
        #expect(Self.refusal([:], ["KAROKAR_TLS_KEY_PASSPHRASE": "hunter2"]) == "tls-key-passphrase is set but TLS is off (no tls-key-file)")
        #expect(Self.refusal(["tls-certificate-file": certificate, "tls-key-file": key]) == "no error")
    }

    @Test("karokar-server refuses to start on a bad TLS file, says why, and exits 1")
    func serverProcessRefuses() async throws {
        let pki = try Self.certificates()
        let (pool, url) = try await TestDatabase.fresh()
        let missing = pki.directory + "/missing.key"
        do {
            let server = try await ServerProcess.start(
                databaseURL: url, arguments: ["--set", "tls-certificate-file=\(pki.certificate("server"))", "--set", "tls-key-file=\(missing)"]
            )
            #expect(try await eventually { !server.isRunning })
            Issue.record("it started: \(server.log.suffix(2000))")
        } catch let failure as ServerProcess.Failure {
            #expect(failure.description.contains("tls-key-file \(missing): cannot read it (No such file or directory)"), "\(failure)")
        }
        await pool.close()
    }
}
