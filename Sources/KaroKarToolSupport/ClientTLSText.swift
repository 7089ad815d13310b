public import KaroKarRPC

/// The TLS flags of `karokar` and `karokar-bench` (`--tls`, `--tls-ca`, `--tls-cert`, `--tls-key`,
/// `--tls-server-name`), turned into a client's TLS. Any of them turns TLS on; `--tls` alone
/// verifies the server against the system's roots.
public struct ClientTLSText: Sendable {
    public var enabled = false
    public var caFile: String?
    public var certificateFile: String?
    public var keyFile: String?
    public var serverName: String?

    public init(enabled: Bool = false, caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, serverName: String? = nil) {
        self.enabled = enabled
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.serverName = serverName
    }

    /// Nil when no TLS flag is given; an error names the flag and the file.
    public func clientTLS() throws(ToolError) -> RPCClientTLS? {
        guard enabled || caFile != nil || certificateFile != nil || keyFile != nil || serverName != nil else { return nil }
        do {
            let context = try RPCTLS.clientContext(
                trustRoots: try caFile.map { path throws(RPCTLS.SetupError) in try RPCTLS.PEMFile.read(path, setting: "--tls-ca") },
                certificateChain: try certificateFile.map { path throws(RPCTLS.SetupError) in try RPCTLS.PEMFile.read(path, setting: "--tls-cert") },
                privateKey: try keyFile.map { path throws(RPCTLS.SetupError) in try RPCTLS.PEMFile.read(path, setting: "--tls-key") }
            )
            return RPCClientTLS(context: context, serverHostname: serverName)
        } catch {
            throw ToolError(error.description)
        }
    }
}
