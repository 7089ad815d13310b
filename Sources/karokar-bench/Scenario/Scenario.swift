import KaroKarRPC
import KaroKarToolSupport
import Synchronization

/// A workload of several kinds of call: setup phases that build the data it needs, run once in
/// order, then a steady mix of steps drawn by weight. Each step gets its own line in the report.
struct Scenario: Sendable {
    let name: String
    let summary: String
    let setup: [ScenarioPhase]
    let mix: [WeightedStep]

    /// Every method the scenario calls; the runner refuses to start unless the server hosts all.
    var requiredPaths: Set<String> {
        Set(setup.flatMap { $0.steps.map(\.step.path) } + mix.map(\.step.path))
    }

    /// The same scenario with some weights replaced (`--mix echo=5,health=1`); 0 leaves a step out.
    func withWeights(_ weights: [String: Int]) throws(ToolError) -> Scenario {
        for name in weights.keys where !mix.contains(where: { $0.step.name == name }) {
            throw ToolError("scenario \(self.name) has no step \(name) in its mix; it has \(mix.map(\.step.name).joined(separator: ", "))")
        }
        let mix = self.mix.map { WeightedStep($0.step, weight: weights[$0.step.name] ?? $0.weight) }
        guard mix.contains(where: { $0.weight > 0 }) else { throw ToolError("--mix leaves no step with a positive weight") }
        return Scenario(name: name, summary: summary, setup: setup, mix: mix)
    }
}

/// One kind of call. `run` makes it through the typed client stubs; it throws the call's RPCError.
struct ScenarioStep: Sendable {
    let name: String
    /// The method's wire path.
    let path: String
    let run: @Sendable (ScenarioContext, inout BenchRandom) async throws -> Void
}

/// Setup: every step runs `repetitions` times, shared out among the workers; phases run in order,
/// so a phase can use what the previous ones put into the world.
struct ScenarioPhase: Sendable {
    let name: String
    let steps: [(step: ScenarioStep, repetitions: Int)]
}

struct WeightedStep: Sendable {
    let step: ScenarioStep
    let weight: Int

    init(_ step: ScenarioStep, weight: Int) {
        self.step = step
        self.weight = weight
    }
}

/// What a step works with: the client, the call options (metadata, deadline) and the world.
struct ScenarioContext: Sendable {
    let client: RPCClient
    let options: CallOptions
    let world: ScenarioWorld
}

/// The data a scenario builds as it runs (ids, names), by collection, shared by all workers.
final class ScenarioWorld: Sendable {
    private let collections = Mutex<[String: [String]]>([:])

    func add(_ values: [String], to collection: String) {
        collections.withLock { $0[collection, default: []].append(contentsOf: values) }
    }

    func count(of collection: String) -> Int {
        collections.withLock { $0[collection]?.count ?? 0 }
    }

    /// A random member of the collection, or nil while it is empty.
    func pick(from collection: String, using random: inout BenchRandom) -> String? {
        let values = collections.withLock { $0[collection] ?? [] }
        return values.randomElement(using: &random)
    }
}
