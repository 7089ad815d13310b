public import NIOCore
public import NIOSSL
import NIOTLS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// TLS on the RPC port (PROTOCOL.md, "TLS"): the frames are unchanged, carried inside a TLS 1.2+
/// connection; both sides offer the ALPN name ``applicationProtocol``. Certificates, keys and CA
/// bundles are PEM files. Every loading error names the setting and the file, and never a key's
/// or passphrase's bytes.
public enum RPCTLS {
    /// The ALPN protocol name both sides offer. A client that offers none is served too.
    public static let applicationProtocol = "karokar/1"

    /// A TLS file or setting that cannot be used; `description` says which and why.
    public struct SetupError: Error, CustomStringConvertible, Sendable {
        public let description: String

        public init(_ description: String) {
            self.description = description
        }
    }

    /// A PEM file's bytes, and the setting (flag, variable) that named it, for error messages.
    public struct PEMFile: Sendable {
        public let setting: String
        public let path: String
        public let bytes: [UInt8]

        public init(setting: String, path: String, bytes: [UInt8]) {
            self.setting = setting
            self.path = path
            self.bytes = bytes
        }

        /// Reads `path` (at most 1 MiB: a certificate bundle is kilobytes).
        public static func read(_ path: String, setting: String) throws(SetupError) -> PEMFile {
            do {
                return PEMFile(setting: setting, path: path, bytes: try RPCTLS.readFile(path))
            } catch {
                throw SetupError("\(setting) \(path): cannot read it (\(error.description))")
            }
        }
    }

    /// The server's context: its certificate chain and key; with `clientCA`, mutual TLS: every
    /// client must present a certificate that chains to one of those roots, or the handshake fails.
    public static func serverContext(
        certificateChain: PEMFile, privateKey: PEMFile, passphrase: [UInt8]? = nil, clientCA: PEMFile? = nil
    ) throws(SetupError) -> NIOSSLContext {
        let chain = try certificates(certificateChain)
        let key = try self.privateKey(privateKey, passphrase: passphrase)
        var configuration: TLSConfiguration
        if let clientCA {
            configuration = TLSConfiguration.makeServerConfigurationWithMTLS(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key),
                trustRoots: .certificates(try certificates(clientCA))
            )
            configuration.sendCANameList = true
        } else {
            configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key)
            )
        }
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = [applicationProtocol]
        return try context(configuration, certificateChain: certificateChain, privateKey: privateKey)
    }

    /// A client's context: the roots that verify the server (nil: the system's), and for mutual
    /// TLS its own certificate chain and key.
    public static func clientContext(
        trustRoots: PEMFile? = nil, certificateChain: PEMFile? = nil, privateKey: PEMFile? = nil, passphrase: [UInt8]? = nil
    ) throws(SetupError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = [applicationProtocol]
        if let trustRoots { configuration.trustRoots = .certificates(try certificates(trustRoots)) }
        switch (certificateChain, privateKey) {
        case (nil, nil): break
        case (let chain?, let key?):
            configuration.certificateChain = try certificates(chain).map { .certificate($0) }
            configuration.privateKey = .privateKey(try self.privateKey(key, passphrase: passphrase))
        case (let chain?, nil): throw SetupError("\(chain.setting) needs a private key too")
        case (nil, let key?): throw SetupError("\(key.setting) needs a certificate too")
        }
        return try context(configuration, certificateChain: certificateChain, privateKey: privateKey)
    }

    /// The verified identity of a TLS peer's certificate, for logs: its subject's common name and
    /// its DNS names, e.g. `CN=billing;DNS=billing.internal`. Nil without a peer certificate.
    public static func identity(of certificate: NIOSSLCertificate?) -> String? {
        guard let certificate else { return nil }
        // NIOSSLCertificate's description is `<NIOSSLCertificate;serial_number=…;common_name=…;alternative_names=…>`:
        // the only public way to the subject's common name without another X.509 parser.
        let fields = certificate.description.dropFirst().dropLast().split(separator: ";")
        var parts: [String] = []
        for field in fields {
            if field.hasPrefix("common_name=") { parts.append("CN=" + field.dropFirst("common_name=".count)) }
            if field.hasPrefix("alternative_names=") { parts.append("SAN=" + field.dropFirst("alternative_names=".count)) }
        }
        let serial = fields.first { $0.hasPrefix("serial_number=") }.map { "serial=" + $0.dropFirst("serial_number=".count) }
        if parts.isEmpty, let serial { parts.append(serial) }
        return String(parts.joined(separator: ";").prefix(256))
    }

    // MARK: - Loading

    private static func certificates(_ file: PEMFile) throws(SetupError) -> [NIOSSLCertificate] {
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMBytes(file.bytes)
        } catch {
            throw SetupError("\(file.setting) \(file.path): holds no PEM certificate")
        }
        guard !certificates.isEmpty else { throw SetupError("\(file.setting) \(file.path): holds no PEM certificate") }
        return certificates
    }

    private static func privateKey(_ file: PEMFile, passphrase: [UInt8]?) throws(SetupError) -> NIOSSLPrivateKey {
        let encrypted = file.bytes.containsSequence(Array("ENCRYPTED".utf8))
        if encrypted && passphrase == nil {
            throw SetupError("\(file.setting) \(file.path): the key is encrypted and no passphrase is configured")
        }
        do {
            // Always a callback: without one BoringSSL would prompt on the terminal for a passphrase.
            return try NIOSSLPrivateKey(bytes: file.bytes, format: .pem) { (setter: NIOSSLPassphraseSetter<[UInt8]>) in
                setter(passphrase ?? [])
            }
        } catch {
            if encrypted { throw SetupError("\(file.setting) \(file.path): cannot decrypt the key (wrong passphrase?)") }
            throw SetupError("\(file.setting) \(file.path): not a PEM private key")
        }
    }

    private static func context(
        _ configuration: TLSConfiguration, certificateChain: PEMFile?, privateKey: PEMFile?
    ) throws(SetupError) -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            if let certificateChain, let privateKey {
                throw SetupError("\(privateKey.setting) \(privateKey.path) does not match the certificate of \(certificateChain.setting) \(certificateChain.path), or cannot be used with it (\(error))")
            }
            throw SetupError("cannot set up TLS: \(error)")
        }
    }

    /// Reads a small file (at most 1 MiB: certificates, keys, settings); the error is the
    /// system's reason, e.g. "No such file or directory".
    public static func readFile(_ path: String) throws(SetupError) -> [UInt8] {
        guard !path.isEmpty else { throw SetupError("empty file name") }
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw SetupError(String(cString: strerror(errno))) }
        defer { close(descriptor) }
        let limit = 1 << 20
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SetupError(String(cString: strerror(errno)))
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            guard bytes.count <= limit else { throw SetupError("larger than 1 MiB") }
        }
        return bytes
    }
}

extension Array where Element == UInt8 {
    fileprivate func containsSequence(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        for start in 0...(count - needle.count) where self[start] == needle[0] {
            if self[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}

/// TLS of an ``RPCClient`` (or of any client connection to the RPC port).
public struct RPCClientTLS: Sendable {
    public var context: NIOSSLContext
    /// The name the server's certificate must carry, sent as SNI; nil: the host connected to
    /// (when it is a name; an IP address is checked against the certificate's IP addresses).
    public var serverHostname: String?

    public init(context: NIOSSLContext, serverHostname: String? = nil) {
        self.context = context
        self.serverHostname = serverHostname
    }

    /// Adds the TLS handler to a new client channel's pipeline (first), and returns a future that
    /// completes when the handshake has: use it before counting the connection as made. A failed
    /// handshake fails it with a message that says so.
    public func addHandlers(to channel: any Channel, host: String) throws -> EventLoopFuture<Void> {
        let name = serverHostname ?? (Self.isIPAddress(host) ? nil : host)
        let handshake = channel.eventLoop.makePromise(of: Void.self)
        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: name), position: .first)
        try channel.pipeline.syncOperations.addHandler(TLSHandshakeWatcher(promise: handshake), position: .after(
            try channel.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self)
        ))
        return handshake.futureResult
    }

    static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}

/// Completes a promise when the TLS handshake ends, either way; passes everything on.
final class TLSHandshakeWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private var promise: EventLoopPromise<Void>?

    init(promise: EventLoopPromise<Void>) {
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted? = event as? TLSUserEvent {
            promise?.succeed()
            promise = nil
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise?.fail(RPCTLS.SetupError("TLS handshake failed: \(error)"))
        promise = nil
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise?.fail(RPCTLS.SetupError("TLS handshake failed: the server closed the connection"))
        promise = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        promise?.fail(RPCTLS.SetupError("TLS handshake failed: the connection was closed"))
        promise = nil
    }
}

@available(*, unavailable)
extension TLSHandshakeWatcher: Sendable {}
