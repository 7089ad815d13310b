import ArgumentParser
import KaroKarRPC
import KaroKarToolSupport
import NIOPosix

/// Where to connect and what to send with every call: address, credentials, metadata, deadline.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "Server address, HOST:PORT.")
    var address = ServerAddress.default.description

    @Option(help: "Access token to send (overrides KAROKAR_TOKEN and the token stored by `karokar login`).")
    var token: String?

    @Option(name: [.customShort("H"), .customLong("metadata")], help: "Metadata entry \"key: value\" (repeatable).")
    var metadata: [String] = []

    @Option(name: [.customLong("timeout"), .customLong("deadline")], help: "Deadline of each call, e.g. 500ms, 10s; 0 for none.")
    var timeout = "30s"

    @Flag(help: "Connect with TLS, the server verified against the system's roots (implied by the other --tls options).")
    var tls = false

    @Option(help: "PEM CA certificates that verify the server's certificate (implies --tls).")
    var tlsCa: String?

    @Option(help: "PEM client certificate, for a server that requires mutual TLS (with --tls-key).")
    var tlsCert: String?

    @Option(help: "PEM private key of --tls-cert (a file path).")
    var tlsKey: String?

    @Option(help: "The name the server's certificate must carry (default: the host of --address).")
    var tlsServerName: String?

    func serverAddress() throws(ToolError) -> ServerAddress {
        try ServerAddress(parsing: address)
    }

    /// Metadata and deadline, with `authorization: Bearer <token>` unless `-H authorization` is given.
    func callOptions(environment: [String: String], sendToken: Bool = true) throws(ToolError) -> CallOptions {
        var entries = try MetadataText.parse(metadata)
        if sendToken, entries[Metadata.Key.authorization] == nil, let token = try resolvedToken(environment: environment) {
            entries[Metadata.Key.authorization] = "Bearer \(token)"
        }
        let deadline = try DurationText.parse(timeout)
        return CallOptions(timeout: deadline == .zero ? nil : deadline, metadata: entries)
    }

    private func resolvedToken(environment: [String: String]) throws(ToolError) -> String? {
        if let token, !token.isEmpty { return token }
        if let token = environment["KAROKAR_TOKEN"], !token.isEmpty { return token }
        guard let store = try? CredentialStore(environment: environment) else { return nil }
        return try store.credentials(for: serverAddress())?.accessToken
    }

    /// A client for the address, closed after `body`.
    func withClient<R>(_ body: (RPCClient) async throws -> R) async throws -> R {
        let address = try serverAddress()
        var configuration = RPCClient.Configuration(host: address.host, port: address.port)
        configuration.clientName = "karokar-cli"
        configuration.connectTimeout = .seconds(5)
        configuration.tls = try ClientTLSText(
            enabled: tls, caFile: tlsCa, certificateFile: tlsCert, keyFile: tlsKey, serverName: tlsServerName
        ).clientTLS()
        let client = RPCClient(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton)
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }
}
