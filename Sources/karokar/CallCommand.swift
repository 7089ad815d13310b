import ArgumentParser
import KaroKarProto
import KaroKarToolSupport

/// `karokar call SERVICE/METHOD [JSON | @FILE | -]`: one call, JSON in and JSON out.
struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Call a method with a JSON request and print the JSON reply.",
        discussion: """
            The request is the argument itself, @FILE for a file, or - for standard input; {} when omitted.
            Example: karokar call karokar.rpc.v1.HealthService/Check '{"service": "karokar.fleet.v1.FleetService"}'
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The method, SERVICE/METHOD.") var method: String
    @Argument(help: "The request: JSON text, @FILE, or - (standard input).") var request = "{}"
    @Flag(help: "Print the reply on one line.") var compact = false

    func run() async throws {
        try await Console.run {
            let resolved = try MethodCatalog.resolve(MethodReference(parsing: method))
            let requestJSON = try TextInput.resolve(request)
            let options = try connection.callOptions(environment: Console.environment)
            let reply = try await connection.withClient { client in
                try await DynamicCall.run(client, method: resolved, requestJSON: requestJSON, options: options)
            }
            print(compact ? reply.jsonText : reply.prettyJSONText)
        }
    }
}
