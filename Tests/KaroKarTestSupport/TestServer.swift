public import KaroKarRPC
public import KaroKarServer
public import NIOCore
import Logging
import NIOPosix

/// The real server (the same composition root as `karokar-server`) on a free loopback port.
public struct TestServer: Sendable {
    public let application: KaroKarApplication
    public let address: SocketAddress
    public let group: any EventLoopGroup

    public static let group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton

    public static func start(_ configure: (inout ServerSettings) -> Void = { _ in }) async throws -> TestServer {
        var settings = ServerSettings()
        settings.port = 0
        configure(&settings)
        var logger = Logger(label: "test-server")
        logger.logLevel = .warning
        let application = KaroKarApplication(settings: settings, group: group, logger: logger)
        let address = try await application.server.start()
        return TestServer(application: application, address: address, group: group)
    }

    public var port: Int { address.port! }

    /// A client library connection to this server.
    public func client(_ configure: (inout RPCClient.Configuration) -> Void = { _ in }) -> RPCClient {
        var configuration = RPCClient.Configuration(host: "127.0.0.1", port: port)
        configure(&configuration)
        return RPCClient(configuration: configuration, group: group)
    }

    public func raw() async throws -> RawConnection {
        try await RawConnection.connect(to: address, group: group)
    }

    public func stop() async {
        await application.server.close()
    }
}
