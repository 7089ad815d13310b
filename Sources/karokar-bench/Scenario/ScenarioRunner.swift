import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarToolSupport
import NIOCore
import Synchronization

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

    func run() async throws -> ScenarioResult {
        try await checkHosted()
        var phases: [ScenarioResult.Phase] = []
        for (index, phase) in scenario.setup.enumerated() {
            let result = await run(phase, seed: seed &+ UInt64(index) &* 7919)
            phases.append(result)
            try result.requireSuccess()
        }
        let load = await runMix()
        return ScenarioResult(scenario: scenario, setup: phases, load: load, tallies: context.world.tallies)
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

    private func runMix() async -> ScenarioResult.Load {
        let steps = scenario.mix.filter { $0.weight > 0 }
        let cumulative = steps.reduce(into: [Int]()) { $0.append(($0.last ?? 0) + $1.weight) }
        let started = LoadConnectionHandler.now()
        let end = started + UInt64(TimeAmount(duration).nanoseconds)
        let tickets = Tickets(total ?? .max)
        let stats = await withTaskGroup(of: [String: StepStats].self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var random = BenchRandom(seed: seed &+ 0x5EED &+ UInt64(worker) &* 31)
                    var stats: [String: StepStats] = [:]
                    while total == nil ? LoadConnectionHandler.now() < end : tickets.take() {
                        let draw = Int.random(in: 0..<cumulative.last!, using: &random)
                        await run(steps[cumulative.firstIndex { draw < $0 }!].step, in: context, into: &stats, &random)
                    }
                    return stats
                }
            }
            return await group.reduce(into: [:]) { $0.merge($1) { var merged = $0; merged.merge($1); return merged } }
        }
        let seconds = Double(LoadConnectionHandler.now() - started) / 1e9
        return ScenarioResult.Load(steps: stats, seconds: seconds, weights: Dictionary(uniqueKeysWithValues: steps.map { ($0.step.name, $0.weight) }))
    }

    /// `step` and the follow-ups it hands back, each measured under its own name. A follow-up
    /// runs even when the duration is over, so what a step placed is withdrawn.
    private func run(_ step: ScenarioStep, in context: ScenarioContext, into stats: inout [String: StepStats], _ random: inout BenchRandom) async {
        var next: ScenarioStep? = step
        while let current = next {
            let (outcome, followUp) = await measure(current, in: context, &random)
            stats[current.name, default: StepStats()].record(outcome, expecting: current.expectedRefusals)
            next = followUp
        }
    }

    /// One call of `step`: its latency and outcome, and its follow-up.
    private func measure(_ step: ScenarioStep, in context: ScenarioContext, _ random: inout BenchRandom) async -> (StepOutcome, ScenarioStep?) {
        let start = LoadConnectionHandler.now()
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
        outcome.latency = outcome.at - start
        return (outcome, followUp)
    }
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
}
