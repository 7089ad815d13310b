import KaroKarProto

/// The final report, as text for people or JSON for machines.
struct BenchReport {
    let call: String
    let concurrency: Int
    let connections: Int
    let elapsed: Duration
    let result: PhaseResult
    let clientCPUSeconds: Double
    let serverCPUSeconds: Double?

    var seconds: Double {
        let (whole, attoseconds) = elapsed.components
        return Double(whole) + Double(attoseconds) / 1e18
    }

    var total: UInt64 { result.histogram.count }
    var rate: Double { Double(total) / seconds }

    var percentiles: [(String, Double)] {
        [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)].map { label, quantile in
            (label, Double(result.histogram.value(atQuantile: quantile)) / 1000)
        } + [("max", Double(result.histogram.maximum) / 1000)]
    }

    func microsecondsPerCall(_ cpu: Double) -> Double {
        total == 0 ? 0 : cpu / Double(total) * 1e6
    }

    var text: String {
        var lines = [
            "call:         \(call)",
            "concurrency:  \(concurrency) in flight on \(connections) connection(s)",
            "requests:     \(total) in \(String(format: "%.2f", seconds)) s = \(String(format: "%.0f", rate)) calls/s",
            "latency (µs): " + percentiles.map { "\($0.0) \(String(format: "%.1f", $0.1))" }.joined(separator: "  "),
            "statuses:     " + result.statuses.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "),
            "client CPU:   \(String(format: "%.2f", microsecondsPerCall(clientCPUSeconds))) µs/call",
        ]
        if !result.domainCodes.isEmpty {
            lines.append("domain codes: " + result.domainCodes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if let serverCPUSeconds {
            lines.append("server CPU:   \(String(format: "%.2f", microsecondsPerCall(serverCPUSeconds))) µs/call")
        }
        return lines.joined(separator: "\n")
    }

    var json: JSONValue {
        var members = [
            JSONMember("call", .string(call)),
            JSONMember("concurrency", .number("\(concurrency)")),
            JSONMember("connections", .number("\(connections)")),
            JSONMember("seconds", .number(String(format: "%.3f", seconds))),
            JSONMember("requests", .number("\(total)")),
            JSONMember("rate", .number(String(format: "%.1f", rate))),
            JSONMember("latencyMicros", .object(percentiles.map { JSONMember($0.0, .number(String(format: "%.1f", $0.1))) })),
            JSONMember("statuses", .object(result.statuses.sorted { $0.key < $1.key }.map { JSONMember($0.key, .number("\($0.value)")) })),
            JSONMember("domainCodes", .object(result.domainCodes.sorted { $0.key < $1.key }.map { JSONMember($0.key, .number("\($0.value)")) })),
            JSONMember("clientCPUMicrosPerCall", .number(String(format: "%.2f", microsecondsPerCall(clientCPUSeconds)))),
        ]
        if let serverCPUSeconds {
            members.append(JSONMember("serverCPUMicrosPerCall", .number(String(format: "%.2f", microsecondsPerCall(serverCPUSeconds)))))
        }
        return .object(members)
    }
}
