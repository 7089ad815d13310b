import ArgumentParser
import KaroKarToolSupport

/// One stage of a run whose load changes: an open-loop rate (calls per second) or, closed loop,
/// a number of calls in flight; held for `duration`.
struct LoadStage: Sendable, Equatable {
    /// Open loop: calls per second; nil: closed loop.
    var rate: Double?
    var concurrency: Int
    var duration: Duration
}

/// `--load-schedule` and `--concurrency-schedule`, as ghz has them, and `--p99` (the knee search):
///
/// - `step`: from `--load-start` by `--load-step` every `--load-step-duration` up to `--load-end`
/// - `line`: from `--load-start` by `--load-step` per second (the slope) up to `--load-end`
///
/// Each stage runs on its own (fresh connections, no warm-up after the first), so an overloaded
/// stage's backlog does not spill into the next one's figures.
struct ScheduleOptions: ParsableArguments {
    static let maximumStages = 500

    @Option(help: "Open-loop rate schedule: const (--rps), step or line.") var loadSchedule = "const"
    @Option(help: "step/line: the first stage's calls per second.") var loadStart: Double?
    @Option(help: "step: calls per second added each stage; line: the slope, per second.") var loadStep: Double?
    @Option(help: "step: how long each stage lasts, e.g. 2s.") var loadStepDuration = "1s"
    @Option(help: "step/line: the last stage's calls per second.") var loadEnd: Double?
    @Option(help: "Closed-loop concurrency schedule: const (--concurrency), step or line.") var concurrencySchedule = "const"
    @Option(help: "step/line: the first stage's calls in flight.") var concurrencyStart: Int?
    @Option(help: "step: calls in flight added each stage; line: the slope, per second.") var concurrencyStep: Int?
    @Option(help: "step: how long each stage lasts.") var concurrencyStepDuration = "1s"
    @Option(help: "step/line: the last stage's calls in flight.") var concurrencyEnd: Int?
    @Option(help: "Knee search: stop at the first stage whose p99 reaches this (e.g. 5ms) or that has a failure; needs a load schedule.")
    var p99: String?

    var hasSchedule: Bool { loadSchedule != "const" || concurrencySchedule != "const" }

    /// The knee's latency bound, if a knee search was asked for.
    func kneeBound() throws(ToolError) -> Duration? {
        guard let p99 else { return nil }
        guard loadSchedule != "const" else {
            throw ToolError("--p99 searches the knee over rising rates: give --load-schedule step or line (and --load-start, --load-step, --load-end)")
        }
        let bound = try DurationText.parse(p99)
        guard bound > .zero else { throw ToolError("--p99 must be above 0") }
        return bound
    }

    /// The stages, or nil for a constant load (`rate` and `concurrency` held for the whole run).
    func stages(concurrency: Int, connections: Int = 1) throws(ToolError) -> [LoadStage]? {
        switch (loadSchedule, concurrencySchedule) {
        case ("const", "const"):
            return nil
        case (_, "const"):
            let rates = try Self.values(
                loadSchedule, "load", start: loadStart, step: loadStep, end: loadEnd, stepDuration: loadStepDuration
            )
            guard rates.allSatisfy({ $0.0 > 0 }) else { throw ToolError("a load schedule's rates must all be above 0") }
            return rates.map { LoadStage(rate: $0.0, concurrency: concurrency, duration: $0.1) }
        case ("const", _):
            let counts = try Self.values(
                concurrencySchedule, "concurrency", start: concurrencyStart.map(Double.init), step: concurrencyStep.map(Double.init),
                end: concurrencyEnd.map(Double.init), stepDuration: concurrencyStepDuration
            )
            guard counts.allSatisfy({ $0.0 >= Double(connections) && $0.0 <= 1_000_000 }) else {
                throw ToolError("a concurrency schedule's values must be from --connections (\(connections)) to 1000000")
            }
            return counts.map { LoadStage(rate: nil, concurrency: Int($0.0), duration: $0.1) }
        default:
            throw ToolError("--load-schedule (open loop) and --concurrency-schedule (closed loop) exclude each other")
        }
    }

    /// start, start ± step, ... up to end (end itself included), each held `stepDuration` (step) or 1 s (line).
    private static func values(
        _ shape: String, _ name: String, start: Double?, step: Double?, end: Double?, stepDuration: String
    ) throws(ToolError) -> [(Double, Duration)] {
        guard shape == "step" || shape == "line" else { throw ToolError("--\(name)-schedule must be const, step or line") }
        guard let start, let step, let end, start.isFinite, step.isFinite, end.isFinite else {
            throw ToolError("--\(name)-schedule \(shape) needs --\(name)-start, --\(name)-step and --\(name)-end")
        }
        guard step != 0, (end - start) / step >= 0 else {
            throw ToolError("--\(name)-step must be non-zero and lead from --\(name)-start (\(start)) to --\(name)-end (\(end))")
        }
        let duration: Duration
        if shape == "line" { duration = .seconds(1) } else { duration = try DurationText.parse(stepDuration) }
        guard duration >= .milliseconds(10) else { throw ToolError("--\(name)-step-duration must be at least 10ms") }
        let count = ((end - start) / step).rounded(.down)
        guard count < Double(maximumStages) else {
            throw ToolError("the \(name) schedule has more than \(maximumStages) stages; take a larger --\(name)-step")
        }
        var values = (0...Int(count)).map { start + Double($0) * step }
        if let last = values.last, abs(last - end) > 1e-9 { values.append(end) }
        return values.map { ($0, duration) }
    }
}

/// The knee search's verdict on one stage.
struct KneeVerdict: Sendable {
    let bound: Duration
    /// The highest offered rate whose stage met the bound with no failure; nil if the first did not.
    var knee: Double?
    /// The stage that broke the bound (nil when every stage met it) and why.
    var brokenAt: Double?
    var reason: String?

    /// Whether a stage passes: p99 under the bound and no failure.
    static func check(p99Nanoseconds: UInt64, failures: Int, requests: Int, bound: Duration) -> String? {
        if requests == 0 { return "no call completed" }
        if failures > 0 { return "\(failures) of \(requests) calls failed" }
        let boundNanoseconds = UInt64(bound.inSeconds * 1e9)
        if p99Nanoseconds >= boundNanoseconds {
            return "p99 \(DurationText.format(.nanoseconds(Int64(p99Nanoseconds)))) reached the bound \(DurationText.format(bound))"
        }
        return nil
    }
}
