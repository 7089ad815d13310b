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
        abstract: "Describe a method (its request and response messages, fields, enums), a service, or a type.",
        discussion: """
            --template prints a JSON skeleton of a message type (or of a method's request) with every field, \
            nested messages, the first value of each enum and the first member of each oneof, which \
            `karokar call` accepts as is: karokar describe --template karokar.rpc.v1.DiagnosticsService/Echo > echo.json
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "SERVICE/METHOD, a service name, or a fully qualified message or enum name.") var symbol: String
    @Flag(help: "Print a JSON request template of the message type (or of the method's request) instead.") var template = false

    func run() async throws {
        try await Console.run {
            let options = try connection.callOptions(environment: Console.environment)
            let text = try await connection.withClient { client in
                let services = try await SchemaWalker.listServices(client, options: options)
                if template {
                    let typeName = try method(in: services)?.requestType ?? symbol
                    let types = try await SchemaWalker.describe([typeName], client: client, options: options)
                    return try RequestSkeleton.json(for: typeName, types: types).prettyJSONText
                }
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
