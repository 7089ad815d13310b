import KaroKarMessages
import KaroKarRPC
import KaroKarServices

/// `builtin`: what operators and tools do against any server, with the built-in services only.
/// Setup learns the server's services and describes a sample of its message types; the mix then
/// checks health, describes types and echoes payloads of random sizes.
enum BuiltinScenario {
    static func make(size: Int) -> Scenario {
        Scenario(
            name: "builtin",
            summary: "health checks, reflection and echo, on data learnt from the server's own listing",
            setup: [
                ScenarioPhase(name: "discover", steps: [(listServices, 1)]),
                ScenarioPhase(name: "learn-types", steps: [(describeType, size)]),
            ],
            mix: [WeightedStep(health, weight: 50), WeightedStep(describeType, weight: 30), WeightedStep(echo, weight: 20)]
        )
    }

    /// Puts every hosted service and every request and response type into the world.
    static let listServices = ScenarioStep(name: "list-services", path: RPCV1.ReflectionService.Method.listServices.path) { context, _ in
        let services = try await RPCV1.ReflectionService.Client(context.client).listServices(RPCV1.ListServicesRequest(), options: context.options).services
        context.world.add(services.map(\.name), to: "services")
        context.world.add(Array(Set(services.flatMap { $0.methods.flatMap { [$0.requestType, $0.responseType] } })).sorted(), to: "types")
    }

    /// Describes a known type, and remembers the message and enum types its fields refer to.
    static let describeType = ScenarioStep(name: "describe-type", path: RPCV1.ReflectionService.Method.describeType.path) { context, random in
        let name = context.world.pick(from: "types", using: &random) ?? "karokar.rpc.v1.EchoRequest"
        let response = try await RPCV1.ReflectionService.Client(context.client).describeType(RPCV1.DescribeTypeRequest(name: name), options: context.options)
        if case .message(let info)? = response.type, context.world.count(of: "types") < 1000 {
            context.world.add(info.fields.map(\.typeName).filter { !$0.isEmpty }, to: "types")
        }
    }

    /// The whole server, or one of its services.
    static let health = ScenarioStep(name: "health", path: RPCV1.HealthService.Method.check.path) { context, random in
        let service = Bool.random(using: &random) ? "" : context.world.pick(from: "services", using: &random) ?? ""
        let response = try await RPCV1.HealthService.Client(context.client).check(RPCV1.CheckRequest(service: service), options: context.options)
        guard response.status == .serving else {
            throw RPCError(.unavailable, "\(service.isEmpty ? "the server" : service) is \(response.status.protoValueName ?? "unknown")")
        }
    }

    /// 16 bytes to 4 KiB, and the reply must be the same bytes.
    static let echo = ScenarioStep(name: "echo", path: RPCV1.DiagnosticsService.Method.echo.path) { context, random in
        let payload = (0..<Int.random(in: 16...4096, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        let reply = try await RPCV1.DiagnosticsService.Client(context.client).echo(RPCV1.EchoRequest(payload: payload), options: context.options)
        guard reply.payload == payload else { throw RPCError(.dataLoss, "echo returned different bytes") }
    }
}
