import KaroKarRPC
import KaroKarToolSupport

/// A workload of several kinds of call: setup phases that build the data it needs, run once in
/// order, then a steady mix of steps drawn by weight. Each step gets its own line in the report.
struct Scenario: Sendable {
    let name: String
    let summary: String
    let setup: [ScenarioPhase]
    let mix: [WeightedStep]

    /// Every method the scenario calls, follow-ups included; the runner refuses to start unless
    /// the server hosts all.
    var requiredPaths: Set<String> {
        let steps = setup.flatMap { $0.steps.map(\.step) } + mix.map(\.step)
        return Set(steps.flatMap { [$0.path] + $0.followUpPaths })
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
/// It may hand back a follow-up step, run next by the same worker and reported on its own line:
/// `schedule-maintenance` hands back the `cancel-maintenance` of what it scheduled, so the
/// marketplace's data stays the same size however long the mix runs.
struct ScenarioStep: Sendable {
    let name: String
    /// The method's wire path.
    let path: String
    /// The paths of the follow-ups `run` may hand back.
    let followUpPaths: [String]
    /// Domain codes that are outcomes by design (a random block that collides with another is
    /// refused `VEHICLE_NOT_AVAILABLE`); any other failure counts as unexpected in the report.
    let expectedRefusals: Set<String>
    let run: @Sendable (ScenarioContext, inout BenchRandom) async throws -> ScenarioStep?

    init(
        name: String, path: String, expecting expectedRefusals: Set<String> = [],
        run: @escaping @Sendable (ScenarioContext, inout BenchRandom) async throws -> Void
    ) {
        self.init(name: name, path: path, followedBy: [], expecting: expectedRefusals) { context, random in
            try await run(context, &random)
            return nil
        }
    }

    init(
        name: String, path: String, followedBy followUpPaths: [String], expecting expectedRefusals: Set<String> = [],
        run: @escaping @Sendable (ScenarioContext, inout BenchRandom) async throws -> ScenarioStep?
    ) {
        self.name = name
        self.path = path
        self.followUpPaths = followUpPaths
        self.expectedRefusals = expectedRefusals
        self.run = run
    }
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

    /// The same context with another deadline per call (nil: none).
    func withTimeout(_ timeout: Duration?) -> ScenarioContext {
        var options = self.options
        options.timeout = timeout
        return ScenarioContext(client: client, options: options, world: world)
    }

    /// The command's options with `authorization: Bearer <token>`, for a step acting as a principal.
    func options(bearer token: String) -> CallOptions {
        var options = self.options
        options.metadata[Metadata.Key.authorization] = "Bearer \(token)"
        return options
    }
}
