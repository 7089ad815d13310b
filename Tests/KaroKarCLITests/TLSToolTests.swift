import Foundation
import KaroKarRPC
import KaroKarServer
import KaroKarTestSupport
import Testing

extension ToolProcesses {
    /// `karokar` and `karokar-bench` against a TLS server (mutual TLS), with the `--tls…` flags.
    @Suite("karokar and karokar-bench over TLS")
    struct TLSToolTests {
        @Test func callAndBenchOverMutualTLS() async throws {
            let pki = try TestCertificates.make()
            defer { pki.remove() }
            let tls = try ServerSettings.resolve(flags: [
                "tls-certificate-file": pki.certificate("server"), "tls-key-file": pki.key("server"),
                "tls-client-ca-file": pki.certificate("ca"),
            ], environment: [:], configFile: nil) { try RPCTLS.readFile($0) }.tls
            let server = try await TestServer.start { $0.tls = tls }
            let address = ["--address", "127.0.0.1:\(server.port)"]
            let identity = ["--tls-ca", pki.certificate("ca"), "--tls-cert", pki.certificate("client"), "--tls-key", pki.key("client")]
            let echo = ["call", "karokar.rpc.v1.DiagnosticsService/Echo", #"{"payload": "AAE="}"#]

            let call = try await ToolProcess.run("karokar", echo + address + identity)
            #expect(call.status == 0, "\(call.stderr)")
            #expect(call.stdout.contains("AAE="))

            let withoutCertificate = try await ToolProcess.run("karokar", echo + address + ["--tls-ca", pki.certificate("ca")])
            #expect(withoutCertificate.status != 0)
            #expect(withoutCertificate.stderr.contains("UNAVAILABLE"), "\(withoutCertificate.stderr)")

            let missing = pki.directory + "/missing.pem"
            let badFile = try await ToolProcess.run("karokar", echo + address + ["--tls-ca", missing])
            #expect(badFile.status != 0)
            #expect(badFile.stderr.contains("--tls-ca \(missing): cannot read it (No such file or directory)"), "\(badFile.stderr)")
            let keyOnly = try await ToolProcess.run("karokar", echo + address + ["--tls-key", pki.key("client")])
            #expect(keyOnly.stderr.contains("--tls-key needs a certificate too"), "\(keyOnly.stderr)")

            let bench = try await ToolProcess.run("karokar-bench", address + identity + [
                "--format", "json", "--no-progress", "--total", "200", "--warmup", "0", "-c", "4", "--connections", "2", "--idle-connections", "2",
            ])
            #expect(bench.status == 0, "\(bench.stderr)")
            #expect(bench.stdout.contains(#""requests":200"#) || bench.stdout.contains(#""requests": 200"#), "\(bench.stdout.prefix(600))")
            let refused = try await ToolProcess.run("karokar-bench", address + ["--tls-ca", pki.certificate("other-ca"), "--total", "10", "--no-progress"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("TLS handshake failed"), "\(refused.stderr)")
            await server.stop()
        }
    }
}
