import ArgumentParser
import KaroKarRPC
import KaroKarToolSupport
import NIOPosix

/// `karokar-bench scenario NAME`: a workload of several steps, with a report per step.
struct ScenarioCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scenario",
        abstract: "Run a scenario: setup phases that build their own data, then a weighted mix of steps.",
        discussion: """
            Scenarios: builtin (health, reflection and echo; runs on any server). The marketplace scenario
            (vendors, vehicles, maintenance, blocks, corporate searches) is added as the Identity,
            Administration and Fleet contexts are served. A scenario refuses to start when the server
            does not host every method it needs.
            """
    )

    @Argument(help: "The scenario: builtin.") var name: String
    @Option(help: "Server address, HOST:PORT.") var address = ServerAddress.default.description
    @Option(name: [.short, .long], help: "Workers (calls in flight).") var concurrency = 16
    @Option(help: "TCP connections the workers share.") var connections = 1
    @Option(help: "How long the mix runs, e.g. 10s.") var duration = "10s"
    @Option(help: "How much data setup builds (scenario-specific; builtin: types described).") var size = 20
    @Option(help: "Step weights, e.g. health=5,echo=1 (0 leaves a step out).") var mix: String?
    @Option(help: "Seed of the generated data.") var seed: UInt64 = 1
    @Option(help: "Deadline of each call.") var timeout = "10s"
    @Option(name: [.customShort("H"), .customLong("metadata")], help: "Metadata entry \"key: value\" (repeatable).")
    var metadata: [String] = []
    @Option(help: "Report format: text or json.") var format = "text"

    func validate() throws {
        guard concurrency >= 1, connections >= 1, size >= 1 else { throw ValidationError("--concurrency, --connections and --size must be at least 1") }
        guard ["text", "json"].contains(format) else { throw ValidationError("--format must be text or json") }
    }

    func run() async throws {
        do {
            let scenario = try makeScenario()
            let client = try makeClient()
            let timeout = try DurationText.parse(self.timeout)
            let context = ScenarioContext(
                client: client, options: CallOptions(timeout: timeout == .zero ? nil : timeout, metadata: try MetadataText.parse(metadata)),
                world: ScenarioWorld()
            )
            let runner = ScenarioRunner(scenario: scenario, context: context, concurrency: concurrency, duration: try DurationText.parse(duration), seed: seed)
            let result: ScenarioResult
            do {
                result = try await runner.run()
                await client.close()
            } catch {
                await client.close()
                throw error
            }
            print(format == "json" ? result.json.prettyJSONText : result.text)
        } catch let error as ToolError {
            StandardError.line("error: \(error.message)")
            throw ExitCode(ExitStatus.localFailure)
        } catch let error as RPCError {
            StandardError.line("error: " + StatusText.describe(error))
            throw ExitCode(ExitStatus.forCode(error.code))
        }
    }

    private func makeScenario() throws(ToolError) -> Scenario {
        guard name == "builtin" else { throw ToolError("unknown scenario \(name); known: builtin") }
        let scenario = BuiltinScenario.make(size: size)
        return try mix.map { text throws(ToolError) in try scenario.withWeights(Self.weights(text)) } ?? scenario
    }

    static func weights(_ text: String) throws(ToolError) -> [String: Int] {
        var weights: [String: Int] = [:]
        for entry in text.split(separator: ",") {
            let parts = entry.split(separator: "=")
            guard parts.count == 2, let weight = Int(parts[1]), weight >= 0 else {
                throw ToolError("--mix entry \"\(entry)\" is not STEP=WEIGHT")
            }
            weights[String(parts[0])] = weight
        }
        return weights
    }

    private func makeClient() throws(ToolError) -> RPCClient {
        let address = try ServerAddress(parsing: address)
        var configuration = RPCClient.Configuration(host: address.host, port: address.port)
        configuration.connections = connections
        configuration.clientName = "karokar-bench-scenario"
        return RPCClient(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton)
    }
}
