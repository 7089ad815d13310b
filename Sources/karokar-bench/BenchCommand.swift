import ArgumentParser
import Foundation
import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import NIOCore
import NIOPosix

/// `karokar-bench`: drives any method of a KaroKar server and reports throughput, latency
/// percentiles, status counts and CPU time per call.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "karokar-bench",
        abstract: "Load generator for KaroKar RPC servers.",
        subcommands: [PoolBenchmark.self, OutboxBenchmark.self]
    )

    @Option(help: "Server address HOST:PORT.") var address = "127.0.0.1:7420"
    @Option(help: "Method as SERVICE/METHOD, e.g. karokar.rpc.v1.DiagnosticsService/Echo.")
    var call = "karokar.rpc.v1.DiagnosticsService/Echo"
    @Option(help: "Request as protobuf JSON.") var data = #"{"payload":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#
    @Option(help: "Calls in flight at once (closed loop).") var concurrency = 64
    @Option(help: "TCP connections the calls are spread over.") var connections = 1
    @Option(help: "Measured duration in seconds.") var duration = 10.0
    @Option(help: "Warm-up seconds before measuring (results discarded).") var warmup = 2.0
    @Option(help: "Event-loop threads of the load generator.") var threads = 1
    @Option(help: "Also report the CPU time of this server process id.") var serverPid: Int32?
    @Option(help: "Output: text or json.") var format = "text"

    func run() async throws {
        let (host, port) = try parseAddress(address)
        let method = try resolveMethod(call)
        let payload = try encodeRequest(data, typeName: method.requestType)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        var configuration = RPCClient.Configuration(host: host, port: port)
        configuration.connections = connections
        configuration.clientName = "karokar-bench"
        let client = RPCClient(configuration: configuration, group: group)
        let path = "/\(method.service)/\(method.name)"

        _ = try await runPhase(client: client, path: path, payload: payload, seconds: warmup)
        let cpuBefore = (client: processCPUSeconds(), server: serverPid.flatMap(cpuSeconds(pid:)))
        let started = ContinuousClock.now
        let result = try await runPhase(client: client, path: path, payload: payload, seconds: duration)
        let elapsed = ContinuousClock.now - started
        let cpuAfter = (client: processCPUSeconds(), server: serverPid.flatMap(cpuSeconds(pid:)))
        await client.close()
        try await group.shutdownGracefully()

        let report = BenchReport(
            call: call, concurrency: concurrency, connections: connections, elapsed: elapsed, result: result,
            clientCPUSeconds: cpuAfter.client - cpuBefore.client,
            serverCPUSeconds: cpuAfter.server.flatMap { after in cpuBefore.server.map { after - $0 } }
        )
        print(format == "json" ? report.json.prettyJSONText : report.text)
    }

    private func runPhase(client: RPCClient, path: String, payload: [UInt8], seconds: Double) async throws -> PhaseResult {
        guard seconds > 0 else { return PhaseResult() }
        let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        return await withTaskGroup(of: PhaseResult.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var result = PhaseResult()
                    let clock = ContinuousClock()
                    while clock.now < end {
                        let start = clock.now
                        do {
                            _ = try await client.call(path: path, payload: payload, options: CallOptions())
                            result.statuses["OK", default: 0] += 1
                        } catch let error as RPCError {
                            result.statuses[error.code.protoValueName ?? "\(error.code.rawValue)", default: 0] += 1
                            if let domain = error.domainCode { result.domainCodes[domain, default: 0] += 1 }
                        } catch {
                            result.statuses["CLIENT_ERROR", default: 0] += 1
                        }
                        let (seconds, attoseconds) = (clock.now - start).components
                        result.histogram.record(nanoseconds: UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000))
                    }
                    return result
                }
            }
            var total = PhaseResult()
            for await partial in group { total.merge(partial) }
            return total
        }
    }
}

struct PhaseResult: Sendable {
    var histogram = LatencyHistogram()
    var statuses: [String: Int] = [:]
    var domainCodes: [String: Int] = [:]

    mutating func merge(_ other: PhaseResult) {
        histogram.merge(other.histogram)
        statuses.merge(other.statuses, uniquingKeysWith: +)
        domainCodes.merge(other.domainCodes, uniquingKeysWith: +)
    }
}

struct ResolvedMethod {
    let service: String
    let name: String
    let requestType: String
}

func parseAddress(_ address: String) throws -> (String, Int) {
    let parts = address.split(separator: ":")
    guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port) else {
        throw ValidationError("--address must be HOST:PORT, got \(address)")
    }
    return (String(parts[0]), port)
}

/// Finds the method in protobuf-c's service descriptors (no server round trip needed).
func resolveMethod(_ call: String) throws -> ResolvedMethod {
    let parts = call.split(separator: "/").map(String.init)
    guard parts.count == 2 else { throw ValidationError("--call must be SERVICE/METHOD, got \(call)") }
    guard let service = ProtoServices.all.first(where: { $0.name == parts[0] }) else {
        throw ValidationError("unknown service \(parts[0]); known: \(ProtoServices.all.map(\.name).joined(separator: ", "))")
    }
    guard let method = service.methods.first(where: { $0.name == parts[1] }) else {
        throw ValidationError("\(parts[0]) has no method \(parts[1]); it has \(service.methods.map(\.name).joined(separator: ", "))")
    }
    return ResolvedMethod(service: service.name, name: method.name, requestType: method.input.name)
}

func encodeRequest(_ json: String, typeName: String) throws -> [UInt8] {
    guard let type = ProtoRegistry.messages[typeName] else { throw ValidationError("no generated type \(typeName)") }
    return try encode(type, json)
}

private func encode<M: ProtoMessage>(_ type: M.Type, _ json: String) throws -> [UInt8] {
    do {
        return ProtoCodec.encode(try M(protoJSON: JSONParser.parse(json)))
    } catch {
        throw ValidationError("--data is not a valid \(M.protoName): \(error)")
    }
}

/// User + system CPU seconds of this process.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// User + system CPU seconds of another process, from /proc/PID/stat.
func cpuSeconds(pid: Int32) -> Double? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}
