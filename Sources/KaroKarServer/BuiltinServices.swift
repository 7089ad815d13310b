public import KaroKarMessages
import KaroKarProto
public import KaroKarRPC
public import KaroKarServices
import Synchronization

/// `karokar.rpc.v1.HealthService`: overall and per-service serving status. Checks are answered
/// on the connection's event loop (immediate handlers); the statuses sit behind a lock.
///
/// The overall status is NOT_SERVING while the server drains (``markNotServing()``) and while
/// the database health probe finds the database unreachable (``setDatabaseAvailable(_:)``); the
/// admin server's `/readyz` reads the same state (``readiness``).
public final class HealthService: RPCV1.HealthService.Handler {
    private struct State {
        var statuses: [String: RPCV1.ServingStatus]
        var configured = RPCV1.ServingStatus.serving
        var draining = false
        var databaseAvailable = true
        var listening = false

        var overall: RPCV1.ServingStatus { draining || !databaseAvailable ? .notServing : configured }
    }

    /// What `/readyz` answers: ready only once the server listens, while the database answers and
    /// before the drain begins.
    public enum Readiness: Sendable, Hashable {
        case ready
        case starting
        case draining
        case databaseUnavailable
        case notServing
    }

    private let state: Mutex<State>

    public init(services: [String]) {
        state = Mutex(State(statuses: Dictionary(uniqueKeysWithValues: services.map { ($0, .serving) })))
    }

    /// The method table, every method immediate.
    public var definition: RPCServiceDefinition {
        serviceDefinition().replacing(RPCRoute(RPCV1.HealthService.Method.check, immediateHandler: check))
    }

    public func check(_ request: RPCV1.CheckRequest, context: ServerCallContext) throws -> RPCV1.CheckResponse {
        state.withLock { state in
            if request.service.isEmpty {
                return RPCV1.CheckResponse(status: state.overall)
            }
            guard let status = state.statuses[request.service] else {
                return RPCV1.CheckResponse(status: .serviceUnknown)
            }
            return RPCV1.CheckResponse(status: state.overall == .serving ? status : state.overall)
        }
    }

    /// Marks the whole server, or one service, serving or not.
    public func set(_ status: RPCV1.ServingStatus, service: String? = nil) {
        state.withLock { state in
            if let service { state.statuses[service] = status } else { state.configured = status }
        }
    }

    /// The database health probe's finding; NOT_SERVING while false.
    public func setDatabaseAvailable(_ available: Bool) {
        state.withLock { $0.databaseAvailable = available }
    }

    /// The RPC server listens: from now on `/readyz` may answer ready.
    public func markListening() {
        state.withLock { $0.listening = true }
    }

    public var readiness: Readiness {
        state.withLock { state in
            if state.draining { return .draining }
            if !state.listening { return .starting }
            if !state.databaseAvailable { return .databaseUnavailable }
            return state.configured == .serving ? .ready : .notServing
        }
    }
}

/// `karokar.rpc.v1.ReflectionService`: what this server hosts, and what its messages look like.
public struct ReflectionService: RPCV1.ReflectionService.Handler {
    let services: [RPCV1.ServiceInfo]

    /// `public` in the listing is each method's declared access rule (from its `.proto`).
    public init(definitions: [RPCServiceDefinition], limits: ServerLimits) {
        services = definitions.map { definition in
            RPCV1.ServiceInfo(name: definition.descriptor.name, methods: definition.routes.map { route in
                let path = "/\(definition.descriptor.name)/\(route.name)"
                return RPCV1.MethodInfo(
                    name: route.name, path: path, requestType: route.requestTypeName, responseType: route.responseTypeName,
                    maxRequestBytes: UInt32(limits.requestBytes(forPath: path)), public: route.access == .public
                )
            })
        }.sorted { $0.name < $1.name }
    }

    /// The method table, every method immediate.
    public var definition: RPCServiceDefinition {
        serviceDefinition()
            .replacing(RPCRoute(RPCV1.ReflectionService.Method.listServices, immediateHandler: listServices))
            .replacing(RPCRoute(RPCV1.ReflectionService.Method.describeType, immediateHandler: describeType))
    }

    public func listServices(_ request: RPCV1.ListServicesRequest, context: ServerCallContext) throws -> RPCV1.ListServicesResponse {
        RPCV1.ListServicesResponse(services: services)
    }

    public func describeType(_ request: RPCV1.DescribeTypeRequest, context: ServerCallContext) throws -> RPCV1.DescribeTypeResponse {
        if let message = ProtoRegistry.messages[request.name] {
            let fields = message.protoSchema.fields.map { field in
                RPCV1.FieldInfo(
                    name: field.name, jsonName: field.jsonName, number: UInt32(field.number), type: field.type,
                    typeName: field.typeName, repeated: field.repeated, oneof: field.oneof, map: field.map
                )
            }
            return RPCV1.DescribeTypeResponse(type: .message(RPCV1.MessageTypeInfo(name: request.name, fields: fields)))
        }
        if let enumType = ProtoRegistry.enums[request.name] {
            let values = enumType.protoValues.map { RPCV1.EnumValueInfo(name: $0.name, number: $0.number) }
            return RPCV1.DescribeTypeResponse(type: .enum(RPCV1.EnumTypeInfo(name: request.name, values: values)))
        }
        throw RPCError(.notFound, "no message or enum type named \(request.name.prefix(200))", domainCode: "TYPE_NOT_FOUND")
    }
}

/// `karokar.rpc.v1.DiagnosticsService`: a side-effect-free call for measurements.
public struct DiagnosticsService: RPCV1.DiagnosticsService.Handler {
    public init() {}

    /// The method table, Echo immediate: answered on the connection's event loop, with no task.
    public var definition: RPCServiceDefinition {
        serviceDefinition().replacing(RPCRoute(RPCV1.DiagnosticsService.Method.echo, immediateHandler: echo))
    }

    public func echo(_ request: RPCV1.EchoRequest, context: ServerCallContext) throws -> RPCV1.EchoResponse {
        RPCV1.EchoResponse(payload: request.payload)
    }
}

extension HealthService {
    /// Reports the whole server NOT_SERVING (during drain), so load balancers stop sending work.
    public func markNotServing() {
        state.withLock { $0.draining = true }
    }
}
