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
    let concurrency: Int
    let duration: Duration
    let seed: UInt64

    func run() async throws -> ScenarioResult {
        try await checkHosted()
        var phases: [ScenarioResult.Phase] = []
        for (index, phase) in scenario.setup.enumerated() {
            let result = await run(phase, seed: seed &+ UInt64(index) &* 7919)
            phases.append(result)
            try result.requireSuccess()
        }
        return ScenarioResult(scenario: scenario, setup: phases, load: await runMix())
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
        let stats = await withTaskGroup(of: [String: LoadStats].self) { group in
            for worker in 0..<max(1, min(concurrency, work.steps.count)) {
                group.addTask {
                    var random = BenchRandom(seed: seed &+ UInt64(worker))
                    var stats: [String: LoadStats] = [:]
                    while let step = work.take() {
                        stats[step.name, default: LoadStats()].record(await measure(step, &random))
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
        let end = started + UInt64(duration.inNanoseconds)
        let stats = await withTaskGroup(of: [String: LoadStats].self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var random = BenchRandom(seed: seed &+ 0x5EED &+ UInt64(worker) &* 31)
                    var stats: [String: LoadStats] = [:]
                    while LoadConnectionHandler.now() < end {
                        let draw = Int.random(in: 0..<cumulative.last!, using: &random)
                        let step = steps[cumulative.firstIndex { draw < $0 }!].step
                        stats[step.name, default: LoadStats()].record(await measure(step, &random))
                    }
                    return stats
                }
            }
            return await group.reduce(into: [:]) { $0.merge($1) { var merged = $0; merged.merge($1); return merged } }
        }
        let seconds = Double(LoadConnectionHandler.now() - started) / 1e9
        return ScenarioResult.Load(steps: stats, seconds: seconds, weights: Dictionary(uniqueKeysWithValues: steps.map { ($0.step.name, $0.weight) }))
    }

    /// One call of `step`: its latency and outcome.
    private func measure(_ step: ScenarioStep, _ random: inout BenchRandom) async -> StepOutcome {
        let start = LoadConnectionHandler.now()
        var outcome = StepOutcome(code: 0, domainCode: nil, latency: 0, at: 0)
        do {
            try await step.run(context, &random)
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
        return outcome
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

extension LoadStats {
    mutating func record(_ outcome: StepOutcome) {
        record(code: outcome.code, domainCode: outcome.domainCode, latency: outcome.latency, at: outcome.at)
        if let message = outcome.message, firstFailure == nil { firstFailure = message }
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
