import ArgumentParser
import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import KaroKarToolSupport

/// `karokar describe SERVICE/METHOD | SERVICE | TYPE`: a method's request and response messages
/// with every nested message and enum, as the server's ReflectionService describes them.
struct DescribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Describe a method (its request and response messages, fields, enums), a service, or a type."
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "SERVICE/METHOD, a service name, or a fully qualified message or enum name.") var symbol: String

    func run() async throws {
        try await Console.run {
            let options = try connection.callOptions(environment: Console.environment)
            let text = try await connection.withClient { client in
                let services = try await SchemaWalker.listServices(client, options: options)
                if let service = services.first(where: { $0.name == symbol }) {
                    return service.methods.map(CatalogText.method).joined(separator: "\n\n")
                }
                if let method = try method(in: services) {
                    let types = try await SchemaWalker.describe([method.requestType, method.responseType], client: client, options: options)
                    return ([CatalogText.method(method)] + types.map(CatalogText.type)).joined(separator: "\n\n")
                }
                let types = try await SchemaWalker.describe([symbol], client: client, options: options)
                return types.map(CatalogText.type).joined(separator: "\n\n")
            }
            print(text)
        }
    }

    /// The listed method `symbol` names, if it has the shape SERVICE/METHOD.
    private func method(in services: [RPCV1.ServiceInfo]) throws -> RPCV1.MethodInfo? {
        guard symbol.contains("/") else { return nil }
        let reference = try MethodReference(parsing: symbol)
        guard let method = services.first(where: { $0.name == reference.service })?.methods.first(where: { $0.name == reference.method }) else {
            throw ToolError("the server does not host \(reference); `karokar list` shows what it hosts")
        }
        return method
    }
}
