import ArgumentParser
import KaroKarMessages
import KaroKarProto
import KaroKarToolSupport

/// `karokar list [SERVICE]`: what the server hosts, from its ReflectionService.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the server's services and their methods."
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "Only this service (fully qualified, e.g. karokar.rpc.v1.HealthService).") var service: String?
    @Flag(help: "Print the listing as JSON (karokar.rpc.v1.ListServicesResponse).") var json = false

    func run() async throws {
        try await Console.run {
            let options = try connection.callOptions(environment: Console.environment)
            var services = try await connection.withClient { try await SchemaWalker.listServices($0, options: options) }
            if let service {
                services = services.filter { $0.name == service }
                guard !services.isEmpty else { throw ToolError("the server does not host a service named \(service)") }
            }
            print(json ? RPCV1.ListServicesResponse(services: services).protoJSON.prettyJSONText : CatalogText.services(services))
        }
    }
}
