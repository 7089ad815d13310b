public import KaroKarMessages
import KaroKarProto
public import KaroKarRPC
import KaroKarServices

/// Asks the server's ReflectionService for types, following message and enum fields, so that
/// `karokar describe` shows everything a request or response is made of.
public enum SchemaWalker {
    /// The server's own listing of services and methods.
    public static func listServices(_ client: RPCClient, options: CallOptions) async throws -> [RPCV1.ServiceInfo] {
        try await RPCV1.ReflectionService.Client(client).listServices(RPCV1.ListServicesRequest(), options: options).services
    }

    /// Every type reachable from `roots`, each once, in the order first seen.
    public static func describe(
        _ roots: [String], client: RPCClient, options: CallOptions
    ) async throws -> [RPCV1.DescribeTypeResponse.TypeOneof] {
        let reflection = RPCV1.ReflectionService.Client(client)
        var queue = roots
        var seen = Set(roots)
        var described: [RPCV1.DescribeTypeResponse.TypeOneof] = []
        while !queue.isEmpty {
            let name = queue.removeFirst()
            let response = try await reflection.describeType(RPCV1.DescribeTypeRequest(name: name), options: options)
            guard let type = response.type else { continue }
            described.append(type)
            guard case .message(let info) = type else { continue }
            for field in info.fields where !field.typeName.isEmpty && seen.insert(field.typeName).inserted {
                queue.append(field.typeName)
            }
        }
        return described
    }
}
