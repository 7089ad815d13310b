import ArgumentParser
import KaroKarRPC
import KaroKarToolSupport

/// `--tls`, `--tls-ca`, `--tls-cert`, `--tls-key`, `--tls-server-name`: as `karokar`'s.
struct TLSFlags: ParsableArguments {
    @Flag(help: "Connect with TLS, the server verified against the system's roots (implied by the other --tls options).")
    var tls = false
    @Option(help: "PEM CA certificates that verify the server's certificate (implies --tls).") var tlsCa: String?
    @Option(help: "PEM client certificate, for a server that requires mutual TLS (with --tls-key).") var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert (a file path).") var tlsKey: String?
    @Option(help: "The name the server's certificate must carry (default: the host of --address).") var tlsServerName: String?

    func clientTLS() throws(ToolError) -> RPCClientTLS? {
        try ClientTLSText(enabled: tls, caFile: tlsCa, certificateFile: tlsCert, keyFile: tlsKey, serverName: tlsServerName).clientTLS()
    }
}
