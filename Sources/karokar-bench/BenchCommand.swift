import ArgumentParser
import KaroKarRPC
import KaroKarToolSupport
import NIOPosix

/// `karokar-bench`: load on a KaroKar server, in the manner of ghz: one method (`call`, the
/// default) or a scenario of several (`scenario`).
@main
struct KarokarBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "karokar-bench",
        abstract: "Load generator for KaroKar RPC servers.",
        subcommands: [BenchCommand.self, ScenarioCommand.self, CrossInstanceCommand.self, CompareCommand.self, HTMLCommand.self, PoolBenchmark.self, OutboxBenchmark.self, ReservationBenchmark.self],
        defaultSubcommand: BenchCommand.self
    )
}

/// `karokar-bench [call]`: load on one method, and a report of throughput, latency percentiles and
/// histogram, status and domain-code counts, and CPU time per call.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Load on one method (the default).",
        discussion: """
            Closed loop by default (--concurrency calls always in flight); --rps makes it open loop, with
            latency counted from each call's intended start. Placeholders in --data strings: {{seq}}
            {{seq * N}} {{seq * N + M}} {{uuid}} {{now}} {{randomInt MIN MAX}} {{randomString N}}
            {{randomDate YYYY-MM-DD YYYY-MM-DD}} {{prev + N}} (the previous number of the request, plus N).
            """
    )

    @Option(help: "Server address, HOST:PORT.") var address = ServerAddress.default.description
    @Option(help: "The method, SERVICE/METHOD.") var call = "karokar.rpc.v1.DiagnosticsService/Echo"
    @Option(help: "Requests, one JSON request per line (placeholders allowed), instead of --data.") var dataFile: String?
    @Option(help: "With --data-file: round-robin or random.") var dataOrder = "round-robin"
    @Option(help: "The request as JSON, or @FILE.") var data = #"{"payload":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#
    @Option(name: [.customShort("H"), .customLong("metadata")], help: "Metadata entry \"key: value\" (repeatable).")
    var metadata: [String] = []
    @Option(name: [.short, .long], help: "Calls in flight at once, over all connections.") var concurrency = 64
    @Option(help: "TCP connections the calls are spread over.") var connections = 1
    @Option(help: "Target calls per second over all connections (open loop); 0 for closed loop.") var rps = 0.0
    @Option(help: "How long to measure, e.g. 10s (ignored with --total).") var duration = "10s"
    @Option(help: "Measure this many calls instead of a duration.") var total: Int?
    @Option(help: "Load before measuring, not recorded, e.g. 2s.") var warmup = "1s"
    @Option(help: "Deadline sent with each call.") var timeout = "10s"
    @Option(help: "Event-loop threads of the load generator.") var threads = 1
    @Option(help: "Seed of the placeholders' random values.") var seed: UInt64 = 1
    @Option(help: "Connections that send HELLO and then nothing, held open during the run beside the active ones.")
    var idleConnections = 0
    @Option(help: "Also report the CPU time of this server process (and its memory per idle connection).") var serverPid: Int32?
    @Option(help: "Report format: text, json, csv or html (one self-contained file with charts).") var format = "text"
    @OptionGroup(title: "Schedules and knee search") var schedule: ScheduleOptions
    @OptionGroup(title: "TLS") var tls: TLSFlags
    @Flag(inversion: .prefixedNo, help: "Show a live progress line (only on a terminal).") var progress = true

    func validate() throws {
        guard concurrency >= 1, connections >= 1, threads >= 1 else { throw ValidationError("--concurrency, --connections and --threads must be at least 1") }
        guard (0...1_000_000).contains(idleConnections) else { throw ValidationError("--idle-connections must be 0 to 1000000") }
        guard connections <= concurrency else { throw ValidationError("--connections (\(connections)) must not exceed --concurrency (\(concurrency))") }
        guard rps >= 0, rps.isFinite else { throw ValidationError("--rps must be 0 (closed loop) or a positive rate") }
        guard total.map({ $0 >= 1 }) ?? true else { throw ValidationError("--total must be at least 1") }
        guard ReportFormat(rawValue: format) != nil else { throw ValidationError("--format must be text, json, csv or html") }
    }

    func run() async throws {
        do {
            let plan = try makePlan()
            let stages = try schedule.stages(concurrency: concurrency, connections: connections)
            let bound = try schedule.kneeBound()
            let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
            let report: BenchReport
            do {
                if let stages {
                    report = try await StagedBench(plan: plan, stages: stages, bound: bound, group: group).run(showProgress: progress)
                } else {
                    report = BenchReport(plan: plan, result: try await BenchRun(plan: plan, group: group).run(showProgress: progress))
                }
                try? await group.shutdownGracefully()
            } catch {
                try? await group.shutdownGracefully()
                throw error
            }
            print(report.render(ReportFormat(rawValue: format)!))
        } catch let error as ToolError {
            StandardError.line("error: \(error.message)")
            throw ExitCode(ExitStatus.localFailure)
        } catch let error as RPCError {
            StandardError.line("error: " + StatusText.describe(error))
            throw ExitCode(ExitStatus.forCode(error.code))
        }
    }

    private func requestSource(typeName: String) throws(ToolError) -> RequestSource {
        guard let dataFile else { return RequestSource(try RequestTemplate(jsonText: TextInput.resolve(data), typeName: typeName)) }
        return try RequestSource(lines: TextInput.file(dataFile), typeName: typeName, order: dataOrder, source: dataFile)
    }

    private func makePlan() throws(ToolError) -> BenchPlan {
        let method = try MethodCatalog.resolve(MethodReference(parsing: call))
        let length: BenchPlan.Length = if let total { .total(total) } else { .duration(try DurationText.parse(duration)) }
        let timeout = try DurationText.parse(self.timeout)
        return BenchPlan(
            address: try ServerAddress(parsing: address), method: method,
            requests: try requestSource(typeName: method.requestType),
            metadata: try MetadataText.parse(metadata), timeout: timeout == .zero ? nil : timeout,
            concurrency: concurrency, connections: connections, rate: rps > 0 ? rps : nil, length: length,
            warmup: try DurationText.parse(warmup), seed: seed, serverPID: serverPid, idleConnections: idleConnections,
            tls: try tls.clientTLS()
        )
    }
}
