import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarToolSupport
import NIOCore
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a scenario: checks that the server hosts every method it needs, runs the setup phases,
/// then `concurrency` workers draw steps from the mix until the duration is over (closed loop).
struct ScenarioRunner {
    let scenario: Scenario
    let context: ScenarioContext
    /// The context of setup's calls: the same world, its own deadline. Setup waits for the
    /// server's slow work (password hashing queues registrations and logins on a few threads).
    let setupContext: ScenarioContext
    let concurrency: Int
    let duration: Duration
    /// Steps of the mix to start (follow-ups not counted) instead of a duration.
    var total: Int? = nil
    let seed: UInt64
    /// Open loop: steps of the mix started per second; nil: closed loop.
    var rate: Double? = nil
    /// A changing load (schedules, knee search) instead of one `rate` and `concurrency`.
    var stages: [LoadStage]? = nil
    var bound: Duration? = nil
    /// The mix also ends (before its duration) once this file exists: a script ends a load when
    /// what it measures is over (Deploy/scale-out.sh's rolling restart).
    var stopFile: String? = nil

    func run() async throws -> ScenarioResult {
        let phases = try await runSetup()
        guard let stages else {
            let load = await runMix(rate: rate, concurrency: concurrency, duration: duration, total: total)
            return ScenarioResult(scenario: scenario, setup: phases, load: load, tallies: context.world.tallies, rate: rate, concurrency: concurrency)
        }
        let (done, knee) = await runStages(stages)
        let load = ScenarioResult.Load(
            steps: done.reduce(into: [String: StepStats]()) { steps, stage in
                for (name, stats) in stage.load.steps {
                    var stats = stats
                    stats.load.series = nil
                    steps[name, default: StepStats()].merge(stats)
                }
            },
            seconds: done.reduce(0) { $0 + $1.load.seconds }, weights: done.first?.load.weights ?? [:]
        )
        return ScenarioResult(
            scenario: scenario, setup: phases, load: load, tallies: context.world.tallies, rate: rate, concurrency: concurrency,
            stages: done, knee: knee
        )
    }

    /// Checks the server hosts every method, then runs the setup phases (the mix not).
    func runSetup() async throws -> [ScenarioResult.Phase] {
        try await checkHosted()
        var phases: [ScenarioResult.Phase] = []
        for (index, phase) in scenario.setup.enumerated() {
            let result = await run(phase, seed: seed &+ UInt64(index) &* 7919)
            phases.append(result)
            try result.requireSuccess()
        }
        return phases
    }

    private func checkHosted() async throws {
        let services = try await SchemaWalker.listServices(context.client, options: context.options)
        let hosted = Set(services.flatMap { $0.methods.map(\.path) })
        let missing = scenario.requiredPaths.subtracting(hosted).sorted()
        guard missing.isEmpty else {
            throw ToolError("scenario \(scenario.name) needs methods this server does not host: \(missing.joined(separator: ", "))")
        }
    }

    // MARK: - Setup

    private func run(_ phase: ScenarioPhase, seed: UInt64) async -> ScenarioResult.Phase {
        let work = WorkQueue(phase.steps.flatMap { entry in Array(repeating: entry.step, count: entry.repetitions) })
        let started = LoadConnectionHandler.now()
        let stats = await withTaskGroup(of: [String: StepStats].self) { group in
            for worker in 0..<max(1, min(concurrency, work.steps.count)) {
                group.addTask {
                    var random = BenchRandom(seed: seed &+ UInt64(worker))
                    var stats: [String: StepStats] = [:]
                    while let step = work.take() {
                        await run(step, in: setupContext, into: &stats, &random)
                    }
                    return stats
                }
            }
            return await group.reduce(into: [:]) { $0.merge($1) { var merged = $0; merged.merge($1); return merged } }
        }
        return ScenarioResult.Phase(name: phase.name, steps: stats, seconds: Double(LoadConnectionHandler.now() - started) / 1e9)
    }

    // MARK: - The mix

    /// The mix under one load: `concurrency` workers, closed loop, or open loop at `rate` steps
    /// per second (each worker takes the next intended start; a late start still counts its
    /// latency from the intended one, so a stalled server cannot hide its stall).
    private func runMix(rate: Double?, concurrency: Int, duration: Duration, total: Int?) async -> ScenarioResult.Load {
        let steps = scenario.mix.filter { $0.weight > 0 }
        let cumulative = steps.reduce(into: [Int]()) { $0.append(($0.last ?? 0) + $1.weight) }
        let started = LoadConnectionHandler.now() + 1_000_000
        let end = started + UInt64(TimeAmount(duration).nanoseconds)
        let tickets = Tickets(total ?? .max)
        let stop = StopFlag()
        let watcher = stopFile.map { path in
            Task {
                while !Task.isCancelled {
                    if access(path, F_OK) == 0 { stop.raise() }
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        }
        defer { watcher?.cancel() }
        let interval = rate.map { UInt64(max(1, (1e9 / $0).rounded())) }
        let width = total == nil ? UInt64(min(max(duration.inSeconds / 50, 0.01), 1) * 1e9) : 100_000_000
        let fresh = StepStats(load: LoadStats(series: TimeSeries(origin: started, width: width)))
        let executors = EventLoopExecutor.all(of: MultiThreadedEventLoopGroup.singleton)
        let stats = await withTaskGroup(of: [String: StepStats].self) { group in
            for worker in 0..<concurrency {
                group.addTask(executorPreference: executors[worker % executors.count]) {
                    var random = BenchRandom(seed: seed &+ 0x5EED &+ UInt64(worker) &* 31)
                    var stats: [String: StepStats] = [:]
                    while true {
                        var intended: UInt64?
                        if let interval {
                            let slot = tickets.next()
                            guard total.map({ slot < $0 }) ?? true else { break }
                            let (product, overflow) = UInt64(slot).multipliedReportingOverflow(by: interval)
                            guard !overflow, started &+ product < end || total != nil else { break }
                            intended = started &+ product
                            let now = LoadConnectionHandler.now()
                            if intended! > now { try? await Task.sleep(for: .nanoseconds(Int64(intended! - now))) }
                        } else {
                            guard total == nil ? LoadConnectionHandler.now() < end && !stop.raised : tickets.take() else { break }
                        }
                        let draw = Int.random(in: 0..<cumulative.last!, using: &random)
                        await run(steps[cumulative.firstIndex { draw < $0 }!].step, in: context, into: &stats, &random, intended: intended, fresh: fresh)
                    }
                    return stats
                }
            }
            return await group.reduce(into: [:]) { $0.merge($1) { var merged = $0; merged.merge($1); return merged } }
        }
        let seconds = Double(LoadConnectionHandler.now() - started) / 1e9
        return ScenarioResult.Load(steps: stats, seconds: seconds, weights: Dictionary(uniqueKeysWithValues: steps.map { ($0.step.name, $0.weight) }))
    }

    /// The stages one after the other, on the same world; with a knee bound, up to the first
    /// stage whose mix has a p99 at or above it or an unexpected failure.
    private func runStages(_ stages: [LoadStage]) async -> ([ScenarioStageResult], KneeVerdict?) {
        var done: [ScenarioStageResult] = []
        var verdict = bound.map { KneeVerdict(bound: $0) }
        for stage in stages {
            let load = await runMix(rate: stage.rate, concurrency: stage.concurrency, duration: stage.duration, total: nil)
            done.append(ScenarioStageResult(stage: stage, load: load))
            if let bound {
                let merged = load.merged
                if let reason = KneeVerdict.check(
                    p99Nanoseconds: merged.histogram.value(atQuantile: 0.99), failures: load.unexpected, requests: merged.requests, bound: bound
                ) {
                    verdict?.brokenAt = stage.rate
                    verdict?.reason = reason
                    break
                }
                verdict?.knee = stage.rate
            }
        }
        return (done, verdict)
    }

    /// `step` and the follow-ups it hands back, each measured under its own name. A follow-up
    /// runs even when the duration is over, so what a step placed is withdrawn.
    private func run(
        _ step: ScenarioStep, in context: ScenarioContext, into stats: inout [String: StepStats], _ random: inout BenchRandom,
        intended: UInt64? = nil, fresh: StepStats = StepStats()
    ) async {
        var next: ScenarioStep? = step
        var intended = intended
        while let current = next {
            let (outcome, followUp) = await measure(current, in: context, &random, from: intended)
            stats[current.name, default: fresh].record(outcome, expecting: current.expectedRefusals)
            next = followUp
            intended = nil
        }
    }

    /// One call of `step`: its latency and outcome, and its follow-up.
    private func measure(
        _ step: ScenarioStep, in context: ScenarioContext, _ random: inout BenchRandom, from intended: UInt64? = nil
    ) async -> (StepOutcome, ScenarioStep?) {
        let start = intended ?? LoadConnectionHandler.now()
        var outcome = StepOutcome(code: 0, domainCode: nil, latency: 0, at: 0)
        var followUp: ScenarioStep?
        do {
            followUp = try await step.run(context, &random)
        } catch let error as RPCError {
            outcome.code = error.code.rawValue
            outcome.domainCode = error.domainCode
            outcome.message = error.message
        } catch {
            outcome.code = RPCCode.unknown.rawValue
            outcome.message = "\(error)"
        }
        outcome.at = LoadConnectionHandler.now()
        outcome.latency = outcome.at &- min(start, outcome.at)
        return (outcome, followUp)
    }
}

/// One stage of a staged scenario run.
struct ScenarioStageResult: Sendable {
    let stage: LoadStage
    let load: ScenarioResult.Load
}

/// How one call of a step ended.
struct StepOutcome: Sendable {
    var code: Int32
    var domainCode: String?
    var latency: UInt64
    var at: UInt64
    var message: String?
}

/// One step's measurements, and how many of its failures the scenario did not expect.
struct StepStats: Sendable {
    var load = LoadStats()
    var unexpected = 0
    /// The message of the first unexpected failure, to explain it in the report.
    var firstUnexpected: String?

    mutating func record(_ outcome: StepOutcome, expecting expectedRefusals: Set<String>) {
        load.record(code: outcome.code, domainCode: outcome.domainCode, latency: outcome.latency, at: outcome.at)
        guard outcome.code != 0 else { return }
        let message = outcome.message ?? "status \(outcome.code)"
        if load.firstFailure == nil { load.firstFailure = message }
        if !expectedRefusals.contains(outcome.domainCode ?? "") {
            unexpected += 1
            if firstUnexpected == nil { firstUnexpected = message }
        }
    }

    mutating func merge(_ other: StepStats) {
        load.merge(other.load)
        unexpected += other.unexpected
        firstUnexpected = firstUnexpected ?? other.firstUnexpected
    }
}

/// A setup phase's calls, handed out one at a time to whichever worker is free.
final class WorkQueue: Sendable {
    let steps: [ScenarioStep]
    private let next = Mutex(0)

    init(_ steps: [ScenarioStep]) {
        self.steps = steps
    }

    func take() -> ScenarioStep? {
        next.withLock { index in
            defer { index += 1 }
            return index < steps.count ? steps[index] : nil
        }
    }
}

/// A count of steps handed out to the workers, at most `limit`.
final class Tickets: Sendable {
    private let taken = Atomic<Int>(0)
    private let limit: Int

    init(_ limit: Int) {
        self.limit = limit
    }

    /// True while tickets remain (and takes one).
    func take() -> Bool {
        taken.wrappingAdd(1, ordering: .relaxed).oldValue < limit
    }

    /// The next ticket's number: 0, 1, 2, ... (open loop: the next intended start).
    func next() -> Int {
        taken.wrappingAdd(1, ordering: .relaxed).oldValue
    }
}

/// Set once: the mix stops.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var raised: Bool { flag.load(ordering: .relaxed) }
    func raise() { flag.store(true, ordering: .relaxed) }
}
