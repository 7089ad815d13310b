public import KaroKarProto
public import KaroKarRPC

/// One call made from JSON: the request parsed by the method's request type, the reply printed
/// through the response type's JSON mapping.
public enum DynamicCall {
    /// Throws ``ToolError`` for local problems (invalid JSON, unknown type) and ``RPCError`` for
    /// the call's failure status.
    public static func run(
        _ client: RPCClient, method: ResolvedMethod, requestJSON: String, options: CallOptions
    ) async throws -> JSONValue {
        let payload = try MessageCodec.encode(jsonText: requestJSON, typeName: method.requestType)
        let reply = try await client.call(path: method.path, payload: payload, options: options)
        return try MessageCodec.json(from: reply, typeName: method.responseType)
    }
}
