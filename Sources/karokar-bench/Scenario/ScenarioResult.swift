import KaroKarProto
import KaroKarRPC
import KaroKarToolSupport

/// What a scenario measured, per setup phase and per step of the mix.
struct ScenarioResult: Sendable {
    struct Phase: Sendable {
        let name: String
        let steps: [String: LoadStats]
        let seconds: Double

        /// Setup must fully succeed: later phases and the mix build on it.
        func requireSuccess() throws(ToolError) {
            for (step, stats) in steps.sorted(by: { $0.key < $1.key }) where stats.failures > 0 {
                throw ToolError("setup phase \(name): \(stats.failures) of \(stats.requests) calls of \(step) failed (first: \(stats.firstFailure ?? "?"))")
            }
        }
    }

    struct Load: Sendable {
        let steps: [String: LoadStats]
        let seconds: Double
        let weights: [String: Int]

        var requests: Int { steps.values.reduce(0) { $0 + $1.requests } }
    }

    let scenario: Scenario
    let setup: [Phase]
    let load: Load
}

extension ScenarioResult {
    static func statuses(_ stats: LoadStats) -> [(String, Int)] {
        stats.statuses { StatusText.name(of: RPCCode(rawValue: $0)) }
    }

    static func latency(_ stats: LoadStats, _ quantile: Double) -> Double {
        Double(stats.histogram.value(atQuantile: quantile)) / 1000
    }

    var text: String {
        var lines = ["scenario:   \(scenario.name): \(scenario.summary)", "setup:"]
        for phase in setup {
            lines.append("  \(phase.name) (\(BenchReport.number(phase.seconds, 3)) s)")
            lines += Self.rows(phase.steps, seconds: phase.seconds)
        }
        lines.append("load:       \(load.requests) calls in \(BenchReport.number(load.seconds, 3)) s = \(BenchReport.number(Double(load.requests) / max(load.seconds, 1e-9), 0)) calls/s")
        lines += Self.rows(load.steps, seconds: load.seconds)
        return lines.joined(separator: "\n")
    }

    private static func rows(_ steps: [String: LoadStats], seconds: Double) -> [String] {
        steps.sorted { $0.key < $1.key }.map { name, stats in
            let rate = Double(stats.requests) / max(seconds, 1e-9)
            let cells = ["\(stats.requests) calls", "\(BenchReport.number(rate, 0))/s",
                         "p50 \(BenchReport.number(latency(stats, 0.5), 1)) µs", "p99 \(BenchReport.number(latency(stats, 0.99), 1)) µs",
                         statuses(stats).map { "\($0.0) \($0.1)" }.joined(separator: ", ")]
            return "    " + name.padding(20) + cells.joined(separator: "  ")
        }
    }

    var json: JSONValue {
        .object([
            JSONMember("scenario", .string(scenario.name)),
            JSONMember("setup", .array(setup.map { phase in
                .object([JSONMember("phase", .string(phase.name)), JSONMember("seconds", .number(BenchReport.number(phase.seconds, 6))),
                         JSONMember("steps", Self.json(phase.steps))])
            })),
            JSONMember("load", .object([
                JSONMember("requests", .number(String(load.requests))), JSONMember("seconds", .number(BenchReport.number(load.seconds, 6))),
                JSONMember("steps", Self.json(load.steps)),
            ])),
        ])
    }

    private static func json(_ steps: [String: LoadStats]) -> JSONValue {
        .array(steps.sorted { $0.key < $1.key }.map { name, stats in
            let percentiles = BenchReport.quantiles.map { JSONMember($0.0, .number(BenchReport.number(latency(stats, $0.1), 3))) }
                + [JSONMember("max", .number(BenchReport.number(Double(stats.histogram.maximum) / 1000, 3)))]
            return .object([
                JSONMember("step", .string(name)), JSONMember("requests", .number(String(stats.requests))),
                JSONMember("latencyMicros", .object(percentiles)),
                JSONMember("statuses", .object(statuses(stats).map { JSONMember($0.0, .number(String($0.1))) })),
                JSONMember("domainCodes", .object(stats.domainCodes.sorted { $0.key < $1.key }.map { JSONMember($0.key, .number(String($0.value))) })),
            ])
        })
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        self + String(repeating: " ", count: max(1, width - count))
    }
}
