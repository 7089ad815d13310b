public import Logging
public import KaroKarRPC
public import NIOCore
import KaroKarMessages
import KaroKarServices

/// The composition root: builds the server from settings. The executable and the tests both use it.
public struct KaroKarApplication: Sendable {
    public let server: RPCServer
    public let health: HealthService

    /// Methods callable without credentials.
    public static let publicPaths: Set<String> = [
        RPCV1.HealthService.Method.check.path,
        RPCV1.ReflectionService.Method.listServices.path,
        RPCV1.ReflectionService.Method.describeType.path,
        RPCV1.DiagnosticsService.Method.echo.path,
    ]

    public init(settings: ServerSettings, group: any EventLoopGroup, logger: Logger) {
        var definitions = [
            DiagnosticsService().serviceDefinition(),
        ]
        let serviceNames = [RPCV1.HealthService.descriptor.name, RPCV1.ReflectionService.descriptor.name] + definitions.map(\.descriptor.name)
        let health = HealthService(services: serviceNames)
        definitions.append(health.serviceDefinition())
        let reflectionPlaceholder = ReflectionService(definitions: [], limits: settings.limits, publicPaths: [])
        let listed = definitions + [reflectionPlaceholder.serviceDefinition()]
        definitions.append(ReflectionService(definitions: listed, limits: settings.limits, publicPaths: Self.publicPaths).serviceDefinition())

        var configuration = RPCServer.Configuration()
        configuration.host = settings.host
        configuration.port = settings.port
        configuration.limits = settings.limits
        configuration.services = definitions
        self.server = RPCServer(configuration: configuration, group: group, logger: logger)
        self.health = health
    }
}
