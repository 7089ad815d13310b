import KaroKarProto
import KaroKarRPC
import KaroKarToolSupport

extension BenchReport {
    var text: String {
        var lines = [
            "call:          \(plan.method.path) on \(plan.address)",
            "load:          \(mode)" + (!stages.isEmpty && !isOpenLoop ? "" : ", \(plan.concurrency) in flight at most") + ", \(plan.connections) connection(s)",
            "requests:      \(result.stats.requests) in \(Self.number(result.seconds, 3)) s = \(Self.number(result.rate, 0)) calls/s",
            "latency (µs):  " + latencies.map { "\($0.0) \(Self.number($0.1, 1))" }.joined(separator: "  "),
            "statuses:      " + statuses.map { "\($0.0) \($0.1)" }.joined(separator: ", "),
        ]
        if !domainCodes.isEmpty {
            lines.append("domain codes:  " + domainCodes.map { "\($0.0) \($0.1)" }.joined(separator: ", "))
        }
        lines.append("CPU per call:  load generator " + cpuText(result.cpu.loadGenerator) + ", server " + cpuText(result.cpu.server))
        if plan.idleConnections > 0 {
            let memory = result.serverBytesPerIdleConnection.map { Self.number($0 / 1024, 2) + " KiB of server memory each" } ?? "server memory n/a (no --server-pid)"
            lines.append("idle:          \(plan.idleConnections) connections open beside the run, \(memory)")
        }
        lines += stageLines
        lines.append("")
        lines.append("latency histogram (µs):")
        let largest = max(chart.map(\.1).max() ?? 1, 1)
        for (edge, count) in chart {
            let bar = String(repeating: "∎", count: Int((Double(count) / Double(largest) * 40).rounded(.up)))
            lines.append("  ≤ " + Self.padded(Self.number(edge, 1), 10) + "  " + Self.padded(String(count), 9) + "  " + bar)
        }
        return lines.joined(separator: "\n")
    }

    private func cpuText(_ seconds: Double?) -> String {
        microsecondsPerCall(seconds).map { Self.number($0, 2) + " µs" } ?? "n/a (no --server-pid)"
    }

    private static func padded(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    var json: JSONValue {
        func number(_ value: Double, _ decimals: Int = 1) -> JSONValue { .number(Self.number(value, decimals)) }
        func counts(_ pairs: [(String, Int)]) -> JSONValue { .object(pairs.map { JSONMember($0.0, .number(String($0.1))) }) }
        var cpu = [JSONMember("loadGeneratorMicrosPerCall", microsecondsPerCall(result.cpu.loadGenerator).map { number($0, 3) } ?? .null)]
        cpu.append(JSONMember("serverMicrosPerCall", microsecondsPerCall(result.cpu.server).map { number($0, 3) } ?? .null))
        return .object([
            JSONMember("call", .string(plan.method.path)),
            JSONMember("address", .string(plan.address.description)),
            JSONMember("mode", .string(isOpenLoop ? "open" : "closed")),
            JSONMember("targetRate", plan.rate.map { number($0) } ?? .null),
            JSONMember("concurrency", .number(String(plan.concurrency))),
            JSONMember("connections", .number(String(plan.connections))),
            JSONMember("requests", .number(String(result.stats.requests))),
            JSONMember("seconds", number(result.seconds, 6)),
            JSONMember("rate", number(result.rate)),
            JSONMember("latencyMicros", .object(latencies.map { JSONMember($0.0, number($0.1, 3)) })),
            JSONMember("histogram", .array(chart.map { .object([JSONMember("upToMicros", number($0.0, 3)), JSONMember("count", .number(String($0.1)))]) })),
            JSONMember("statuses", counts(statuses)),
            JSONMember("domainCodes", counts(domainCodes)),
            JSONMember("cpu", .object(cpu)),
            JSONMember("idleConnections", .number(String(plan.idleConnections))),
            JSONMember("serverBytesPerIdleConnection", result.serverBytesPerIdleConnection.map { number($0) } ?? .null),
            JSONMember("settings", settings),
            JSONMember("machine", Machine.json),
            JSONMember("series", Self.seriesJSON(seriesPoints)),
            JSONMember("stages", .array(stages.enumerated().map { Self.stageJSON($0.offset + 1, $0.element.stage, $0.element.result.stats, seconds: $0.element.result.seconds) })),
            JSONMember("knee", knee.map(Self.kneeJSON) ?? .null),
        ])
    }

    /// A header and one row for the whole run (`stage` = `all`), so runs can be appended to one
    /// file; with a load or concurrency schedule, one more row per stage (`stage` = 1, 2, ...) with
    /// that stage's offered rate, concurrency, calls, achieved rate, percentiles and statuses
    /// (the whole-run columns a stage does not have are empty).
    var csv: String {
        let header = csvColumns(stage: "all", rate: plan.rate, concurrency: plan.concurrency, stats: result.stats, seconds: result.seconds, whole: true)
        var rows = [header.map(\.1)]
        for (index, stage) in stages.enumerated() {
            rows.append(csvColumns(
                stage: String(index + 1), rate: stage.stage.rate, concurrency: stage.stage.concurrency,
                stats: stage.result.stats, seconds: stage.result.seconds, whole: false
            ).map(\.1))
        }
        return ([header.map(\.0)] + rows).map { $0.joined(separator: ",") }.joined(separator: "\n")
    }

    private func csvColumns(stage: String, rate: Double?, concurrency: Int, stats: LoadStats, seconds: Double, whole: Bool) -> [(String, String)] {
        let latency = Dictionary(uniqueKeysWithValues: Self.latencies(stats.histogram))
        let statuses = stats.statuses { StatusText.name(of: RPCCode(rawValue: $0)) }
        return [
            ("stage", stage), ("call", plan.method.path), ("mode", isOpenLoop ? "open" : "closed"),
            ("target_rate", rate.map { Self.number($0, 1) } ?? ""), ("concurrency", String(concurrency)),
            ("connections", String(plan.connections)), ("requests", String(stats.requests)),
            ("seconds", Self.number(seconds, 6)), ("rate", Self.number(seconds > 0 ? Double(stats.requests) / seconds : 0, 1)),
        ] + ["min", "mean", "p50", "p90", "p99", "p99.9", "max"].map { name in
            ("\(name.replacingDots)_us", latency[name].map { Self.number($0, 3) } ?? "")
        } + [
            ("statuses", statuses.map { "\($0.0)=\($0.1)" }.joined(separator: ";")),
        ] + wholeRunColumns(whole)
    }

    /// Figures only the whole run has (empty in a stage's row).
    private func wholeRunColumns(_ whole: Bool) -> [(String, String)] {
        let codes: String = domainCodes.map { "\($0.0)=\($0.1)" }.joined(separator: ";")
        let loadCPU: String = microsecondsPerCall(result.cpu.loadGenerator).map { Self.number($0, 3) } ?? ""
        let serverCPU: String = microsecondsPerCall(result.cpu.server).map { Self.number($0, 3) } ?? ""
        let idleBytes: String = result.serverBytesPerIdleConnection.map { Self.number($0, 1) } ?? ""
        return [
            ("domain_codes", whole ? codes : ""),
            ("load_generator_cpu_us_per_call", whole ? loadCPU : ""),
            ("server_cpu_us_per_call", whole ? serverCPU : ""),
            ("idle_connections", String(plan.idleConnections)),
            ("server_bytes_per_idle_connection", whole ? idleBytes : ""),
        ]
    }
}

extension String {
    fileprivate var replacingDots: String {
        filter { $0 != "." }
    }
}
