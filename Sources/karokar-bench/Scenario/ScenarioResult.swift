import KaroKarProto
import KaroKarRPC
import KaroKarToolSupport

/// What a scenario measured, per setup phase and per step of the mix.
struct ScenarioResult: Sendable {
    struct Phase: Sendable {
        let name: String
        let steps: [String: StepStats]
        let seconds: Double

        /// Setup must fully succeed: later phases and the mix build on it.
        func requireSuccess() throws(ToolError) {
            for (step, stats) in steps.sorted(by: { $0.key < $1.key }) where stats.load.failures > 0 {
                let load = stats.load
                throw ToolError("setup phase \(name): \(load.failures) of \(load.requests) calls of \(step) failed (first: \(load.firstFailure ?? "?"))")
            }
        }
    }

    struct Load: Sendable {
        let steps: [String: StepStats]
        let seconds: Double
        let weights: [String: Int]

        var requests: Int { steps.values.reduce(0) { $0 + $1.load.requests } }

        /// Every call of the mix, all steps together (with the time series when kept).
        var merged: LoadStats {
            steps.values.reduce(into: LoadStats()) { $0.merge($1.load) }
        }
        /// Failures no step expected: 0 in a healthy run.
        var unexpected: Int { steps.values.reduce(0) { $0 + $1.unexpected } }
    }

    let scenario: Scenario
    let setup: [Phase]
    let load: Load
    /// What the steps counted besides calls (vehicles found by searches, ...).
    let tallies: [String: Int]
    /// Open loop: the mix's steps started per second; nil: closed loop.
    var rate: Double? = nil
    var concurrency = 0
    var stages: [ScenarioStageResult] = []
    var knee: KneeVerdict? = nil
    /// Calls the client retried by itself because the server provably had not started them
    /// (a drain, a refused or unusable connection): each counted once per retry.
    var clientRetries = 0
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
        lines.append("mix:        " + modeText + ", \(concurrency) workers")
        lines.append("load:       \(load.requests) calls in \(BenchReport.number(load.seconds, 3)) s = \(BenchReport.number(Double(load.requests) / max(load.seconds, 1e-9), 0)) calls/s")
        lines += Self.rows(load.steps, seconds: load.seconds)
        lines += BenchReport.stageTable(stages.map { ($0.stage, $0.load.merged, $0.load.seconds) }).map { "    " + $0 }
        if let knee { lines.append(BenchReport.kneeText(knee)) }
        lines.append("unexpected: \(load.unexpected) failures" + (load.unexpected == 0 ? "" : " (" + load.steps.sorted { $0.key < $1.key }
            .compactMap { name, stats in stats.firstUnexpected.map { "\(name): \($0)" } }.joined(separator: "; ") + ")"))
        lines.append("retries:    \(clientRetries) (calls the client retried by itself: the server had not started them)")
        if !tallies.isEmpty {
            lines.append("tallies:    " + tallies.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }

    var modeText: String {
        if let first = stages.first?.stage, let last = stages.last?.stage {
            if let from = first.rate, let to = last.rate {
                return "open loop, \(stages.count) stages from \(BenchReport.number(from, 0)) to \(BenchReport.number(to, 0)) steps/s"
            }
            return "closed loop, \(stages.count) stages from \(first.concurrency) to \(last.concurrency) workers in flight"
        }
        return rate.map { "open loop at \(BenchReport.number($0, 0)) steps/s" } ?? "closed loop"
    }

    /// The mix's completions over time, stages laid end to end.
    var seriesPoints: [SeriesPoint] {
        if stages.isEmpty { return load.merged.series.map { BenchReport.points($0, offset: 0) } ?? [] }
        var offset = 0.0, points: [SeriesPoint] = []
        for stage in stages {
            if let series = stage.load.merged.series { points += BenchReport.points(series, offset: offset) }
            offset += max(stage.load.seconds, stage.stage.duration.inSeconds)
        }
        return points
    }

    private static func rows(_ steps: [String: StepStats], seconds: Double) -> [String] {
        steps.sorted { $0.key < $1.key }.map { name, step in
            let stats = step.load
            let rate = Double(stats.requests) / max(seconds, 1e-9)
            let codes = stats.domainCodes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            let cells = ["\(stats.requests) calls", "\(BenchReport.number(rate, 0))/s",
                         "p50 \(BenchReport.number(latency(stats, 0.5), 1)) µs", "p99 \(BenchReport.number(latency(stats, 0.99), 1)) µs",
                         (statuses(stats).map { "\($0.0) \($0.1)" } + codes).joined(separator: ", ")]
                + (step.unexpected > 0 ? ["unexpected \(step.unexpected)"] : [])
            return "    " + name.padding(22) + cells.joined(separator: "  ")
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
                JSONMember("unexpected", .number(String(load.unexpected))), JSONMember("clientRetries", .number(String(clientRetries))),
                JSONMember("steps", Self.json(load.steps)),
                JSONMember("series", BenchReport.seriesJSON(seriesPoints)),
                JSONMember("stages", .array(stages.enumerated().map {
                    BenchReport.stageJSON($0.offset + 1, $0.element.stage, $0.element.load.merged, seconds: $0.element.load.seconds)
                })),
            ])),
            JSONMember("knee", knee.map(BenchReport.kneeJSON) ?? .null),
            JSONMember("settings", .object([
                JSONMember("scenario", .string(scenario.name)),
                JSONMember("mode", .string(modeText)),
                JSONMember("concurrency", .number(String(concurrency))),
                JSONMember("schedule", .string(stages.isEmpty ? "constant" : "\(stages.count) stages")),
                JSONMember("weights", .string(load.weights.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))),
            ])),
            JSONMember("machine", Machine.json),
            JSONMember("tallies", .object(tallies.sorted { $0.key < $1.key }.map { JSONMember($0.key, .number(String($0.value))) })),
        ])
    }

    private static func json(_ steps: [String: StepStats]) -> JSONValue {
        .array(steps.sorted { $0.key < $1.key }.map { name, step in
            let stats = step.load
            let percentiles = BenchReport.quantiles.map { JSONMember($0.0, .number(BenchReport.number(latency(stats, $0.1), 3))) }
                + [JSONMember("max", .number(BenchReport.number(Double(stats.histogram.maximum) / 1000, 3)))]
            return .object([
                JSONMember("step", .string(name)), JSONMember("requests", .number(String(stats.requests))),
                JSONMember("latencyMicros", .object(percentiles)),
                JSONMember("statuses", .object(statuses(stats).map { JSONMember($0.0, .number(String($0.1))) })),
                JSONMember("domainCodes", .object(stats.domainCodes.sorted { $0.key < $1.key }.map { JSONMember($0.key, .number(String($0.value))) })),
                JSONMember("unexpected", .number(String(step.unexpected))),
            ] + (step.firstUnexpected.map { [JSONMember("firstUnexpected", .string($0))] } ?? []))
        })
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        self + String(repeating: " ", count: max(1, width - count))
    }
}
