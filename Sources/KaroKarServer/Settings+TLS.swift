public import NIOSSL
import KaroKarRPC

/// TLS on the RPC port (PROTOCOL.md, "TLS"): the certificate chain and key files, and for mutual
/// TLS the CA that client certificates must chain to. The files are read, and the key checked
/// against the certificate, when the settings are resolved: a bad file stops the start with a
/// message naming the setting and the file. The key's passphrase, a secret, comes from the
/// environment or a file, never a flag.
public struct TLSOptions: Sendable {
    public var certificateFile = ""
    public var keyFile = ""
    public var clientCAFile = ""
    var keyPassphrase: String?
    /// Built from the files by ``ServerSettings/resolve(flags:environment:configFile:readFile:)``;
    /// nil: plain TCP.
    public var context: NIOSSLContext?

    public init() {}

    /// Whether clients must present a certificate (mutual TLS).
    public var requiresClientCertificate: Bool { context != nil && !clientCAFile.isEmpty }
}

extension ServerSettings {
    static let tlsSpecs: [SettingSpec] = [
        SettingSpec(name: "tls-certificate-file", help: "PEM certificate chain of the RPC port (leaf first); with tls-key-file turns TLS on (empty: plain TCP)", defaultValue: ""),
        SettingSpec(name: "tls-key-file", help: "PEM private key of that certificate (a path; keep the file readable by the server only)", defaultValue: ""),
        SettingSpec(name: "tls-key-passphrase", help: "passphrase of an encrypted tls-key-file (environment or the -file variant only)", defaultValue: ""),
        SettingSpec(name: "tls-key-passphrase-file", help: "file holding tls-key-passphrase", defaultValue: ""),
        SettingSpec(name: "tls-client-ca-file", help: "PEM CA certificates: mutual TLS, every client must present a certificate they verify (empty: none asked)", defaultValue: ""),
    ]

    /// Applies a `tls-*` setting; false for other names.
    mutating func applyTLS(_ name: String, _ value: String, source: String) throws -> Bool {
        switch name {
        case "tls-certificate-file": tls.certificateFile = value
        case "tls-key-file": tls.keyFile = value
        case "tls-client-ca-file": tls.clientCAFile = value
        case "tls-key-passphrase": tls.keyPassphrase = value.isEmpty ? nil : value
        default: return false
        }
        return true
    }

    /// Reads the TLS files and builds the server's context; every problem is an ``Invalid``.
    mutating func checkTLS(readFile: (String) throws -> [UInt8]) throws {
        let (certificate, key, clientCA) = (tls.certificateFile, tls.keyFile, tls.clientCAFile)
        if certificate.isEmpty && key.isEmpty {
            guard clientCA.isEmpty else { throw Invalid(description: "tls-client-ca-file needs tls-certificate-file and tls-key-file (mutual TLS is TLS)") }
            guard tls.keyPassphrase == nil else { throw Invalid(description: "tls-key-passphrase is set but TLS is off (no tls-key-file)") }
            return
        }
        guard !certificate.isEmpty else { throw Invalid(description: "tls-key-file needs tls-certificate-file") }
        guard !key.isEmpty else { throw Invalid(description: "tls-certificate-file needs tls-key-file") }
        func file(_ path: String, _ setting: String) throws -> RPCTLS.PEMFile {
            do {
                return RPCTLS.PEMFile(setting: setting, path: path, bytes: try readFile(path))
            } catch {
                throw Invalid(description: "\(setting) \(path): cannot read it (\(Self.reason(error)))")
            }
        }
        do {
            tls.context = try RPCTLS.serverContext(
                certificateChain: try file(certificate, "tls-certificate-file"), privateKey: try file(key, "tls-key-file"),
                passphrase: tls.keyPassphrase.map { Array($0.utf8) },
                clientCA: clientCA.isEmpty ? nil : try file(clientCA, "tls-client-ca-file")
            )
        } catch let error as RPCTLS.SetupError {
            throw Invalid(description: error.description)
        }
    }

    /// The reason of a file error: the system's (``RPCTLS/readFile(_:)``), or whatever the reader threw.
    private static func reason(_ error: any Error) -> String {
        (error as? RPCTLS.SetupError)?.description ?? "\(error)"
    }
}
