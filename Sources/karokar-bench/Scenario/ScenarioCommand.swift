import ArgumentParser
import KaroKarRPC
import KaroKarToolSupport
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `karokar-bench scenario NAME`: a workload of several steps, with a report per step.
struct ScenarioCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scenario",
        abstract: "Run a scenario: setup phases that build their own data, then a weighted mix of steps.",
        discussion: """
            builtin: health, reflection and echo; runs on any server (--size: types described).

            marketplace: the platform administrator approves --size vendors and --corporates \
            corporates; each vendor registers and activates --vehicles-per-vendor vehicles, a third get \
            maintenance and a third a block. Then corporates search and check availability, and vendors \
            read fleets and timelines and place and withdraw maintenance and blocks. It signs in with \
            --admin-email and --admin-password-file (by default the file a development server writes) \
            or --admin-password. Names and plates come from --seed plus a tag new every run, so it runs \
            again on the same server. VEHICLE_NOT_AVAILABLE on a random hold is an outcome by design; \
            other failures are reported as unexpected. Setup waits for the server's password hashing \
            (--setup-timeout); access tokens live 15 minutes by default, so keep --duration below that. \
            Example, next to a server started with its defaults (karokar-server):
            karokar-bench scenario marketplace --size 20 --duration 10s

            A scenario refuses to start when the server does not host every method it needs.
            """
    )

    @Argument(help: "The scenario: builtin or marketplace.") var name: String
    @Option(help: "Server address, HOST:PORT.") var address = ServerAddress.default.description
    @OptionGroup(title: "TLS") var tls: TLSFlags
    @Option(name: [.short, .long], help: "Workers (calls in flight).") var concurrency = 16
    @Option(help: "TCP connections the workers share.") var connections = 1
    @Option(help: "How long the mix runs, e.g. 10s (ignored with --total).") var duration = "10s"
    @Option(help: "Run this many steps of the mix (their follow-ups included) instead of a duration.") var total: Int?
    @Option(help: "How much data setup builds (builtin: types described; marketplace: vendors).") var size = 20
    @Option(help: "marketplace: vehicles each vendor registers.") var vehiclesPerVendor = 5
    @Option(help: "marketplace: corporates (default: a quarter of --size, at least 1).") var corporates: Int?
    @Option(help: "marketplace: the platform administrator's e-mail.") var adminEmail = "admin@karokar.local"
    @Option(help: "marketplace: their password (visible to other users of the machine; prefer the file).") var adminPassword: String?
    @Option(help: "marketplace: file holding their password.") var adminPasswordFile = ".karokar/bootstrap-admin-password"
    @Option(help: "Step weights, e.g. health=5,echo=1 (0 leaves a step out).") var mix: String?
    @Option(help: "Seed of the generated data.") var seed: UInt64 = 1
    @Option(help: "Deadline of each call of the mix.") var timeout = "10s"
    @Option(help: "Deadline of each setup call (they queue behind the server's password hashing).") var setupTimeout = "5m"
    @Option(name: [.customShort("H"), .customLong("metadata")], help: "Metadata entry \"key: value\" (repeatable).")
    var metadata: [String] = []
    @Option(help: "Open loop: steps of the mix started per second (latency from each intended start); 0: closed loop.") var rps = 0.0
    @Option(help: "Report format: text, json or html.") var format = "text"
    @Option(help: "Times the client retries a call the server provably did not start (drain, refused connection).") var retries = 3
    @Option(help: "End the mix early once this file exists (--duration is then the longest it runs).") var stopFile: String?
    @OptionGroup(title: "Schedules and knee search (rates are steps of the mix per second)") var schedule: ScheduleOptions

    func validate() throws {
        guard concurrency >= 1, connections >= 1, size >= 1 else { throw ValidationError("--concurrency, --connections and --size must be at least 1") }
        guard vehiclesPerVendor >= 1, (corporates ?? 1) >= 1 else { throw ValidationError("--vehicles-per-vendor and --corporates must be at least 1") }
        guard ["text", "json", "html"].contains(format) else { throw ValidationError("--format must be text, json or html") }
        guard rps >= 0, rps.isFinite else { throw ValidationError("--rps must be 0 (closed loop) or a positive rate") }
    }

    func run() async throws {
        do {
            if let total, total < 1 { throw ToolError("--total must be 1 or more") }
            let scenario = try makeScenario()
            let client = try makeClient()
            let timeout = try DurationText.parse(self.timeout)
            let context = ScenarioContext(
                client: client, options: CallOptions(timeout: timeout == .zero ? nil : timeout, metadata: try MetadataText.parse(metadata)),
                world: ScenarioWorld()
            )
            let setupTimeout = try DurationText.parse(self.setupTimeout)
            var runner = ScenarioRunner(
                scenario: scenario, context: context, setupContext: context.withTimeout(setupTimeout == .zero ? nil : setupTimeout),
                concurrency: concurrency, duration: try DurationText.parse(duration), total: total, seed: seed
            )
            runner.rate = rps > 0 ? rps : nil
            runner.stopFile = stopFile
            runner.stages = try schedule.stages(concurrency: concurrency)
            runner.bound = try schedule.kneeBound()
            var result: ScenarioResult
            do {
                result = try await runner.run()
                result.clientRetries = client.retries
                await client.close()
            } catch {
                await client.close()
                throw error
            }
            switch format {
            case "json": print(result.json.prettyJSONText)
            case "html": print(HTMLReport.page(title: "karokar-bench scenario \(scenario.name)", data: result.json))
            default: print(result.text)
            }
        } catch let error as ToolError {
            StandardError.line("error: \(error.message)")
            throw ExitCode(ExitStatus.localFailure)
        } catch let error as RPCError {
            StandardError.line("error: " + StatusText.describe(error))
            throw ExitCode(ExitStatus.forCode(error.code))
        }
    }

    private func makeScenario() throws(ToolError) -> Scenario {
        let scenario: Scenario
        switch name {
        case "builtin": scenario = BuiltinScenario.make(size: size)
        case "marketplace": scenario = MarketplaceScenario.make(try marketplaceConfiguration())
        default: throw ToolError("unknown scenario \(name); known: builtin, marketplace")
        }
        return try mix.map { text throws(ToolError) in try scenario.withWeights(Self.weights(text)) } ?? scenario
    }

    private func marketplaceConfiguration() throws(ToolError) -> MarketplaceScenario.Configuration {
        let password: String
        if let adminPassword {
            password = adminPassword
        } else {
            do {
                password = try TextInput.file(adminPasswordFile).trimmingTrailingNewlines
            } catch {
                throw ToolError("""
                    marketplace signs in as the platform administrator: \(error.message) (a development server writes the \
                    password it generated to <data-dir>/bootstrap-admin-password); give --admin-password-file or --admin-password
                    """)
            }
        }
        let now = Int64(time(nil))
        return MarketplaceScenario.Configuration(
            vendors: size, vehiclesPerVendor: vehiclesPerVendor, corporates: corporates ?? max(1, size / 4),
            adminEmail: adminEmail, adminPassword: password,
            data: MarketplaceData(seed: seed, runTag: MarketplaceData.makeRunTag(), horizonStart: (now / 86_400 + 1) * 86_400)
        )
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
        configuration.maximumRetries = max(0, retries)
        configuration.tls = try tls.clientTLS()
        return RPCClient(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton)
    }
}

extension String {
    fileprivate var trimmingTrailingNewlines: String {
        var text = Substring(self)
        while text.last?.isNewline == true { text = text.dropLast() }
        return String(text)
    }
}
