import KaroKarProto

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

    /// A header and one row, so runs can be appended to one file.
    var csv: String {
        let latency = Dictionary(uniqueKeysWithValues: latencies)
        let columns: [(String, String)] = [
            ("call", plan.method.path), ("mode", isOpenLoop ? "open" : "closed"),
            ("target_rate", plan.rate.map { Self.number($0, 1) } ?? ""), ("concurrency", String(plan.concurrency)),
            ("connections", String(plan.connections)), ("requests", String(result.stats.requests)),
            ("seconds", Self.number(result.seconds, 6)), ("rate", Self.number(result.rate, 1)),
        ] + ["min", "mean", "p50", "p90", "p99", "p99.9", "max"].map { name in
            ("\(name.replacingDots)_us", latency[name].map { Self.number($0, 3) } ?? "")
        } + [
            ("statuses", statuses.map { "\($0.0)=\($0.1)" }.joined(separator: ";")),
            ("domain_codes", domainCodes.map { "\($0.0)=\($0.1)" }.joined(separator: ";")),
            ("load_generator_cpu_us_per_call", microsecondsPerCall(result.cpu.loadGenerator).map { Self.number($0, 3) } ?? ""),
            ("server_cpu_us_per_call", microsecondsPerCall(result.cpu.server).map { Self.number($0, 3) } ?? ""),
            ("idle_connections", String(plan.idleConnections)),
            ("server_bytes_per_idle_connection", result.serverBytesPerIdleConnection.map { Self.number($0, 1) } ?? ""),
        ]
        return columns.map(\.0).joined(separator: ",") + "\n" + columns.map(\.1).joined(separator: ",")
    }
}

extension String {
    fileprivate var replacingDots: String {
        filter { $0 != "." }
    }
}
