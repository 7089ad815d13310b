import KaroKarMessages
public import KaroKarProto

/// A method with its message types, from the generated protobuf-c service descriptors (the same
/// tables the server routes by).
public struct ResolvedMethod: Hashable, Sendable {
    public let reference: MethodReference
    /// Fully qualified request and response message names.
    public let requestType: String
    public let responseType: String

    public var path: String { reference.path }
}

/// Every service and method these tools were built with.
public enum MethodCatalog {
    public static var services: [ProtoServiceDescriptor] { ProtoServices.all }

    /// Finds the method, or explains what exists instead.
    public static func resolve(_ reference: MethodReference) throws(ToolError) -> ResolvedMethod {
        guard let service = services.first(where: { $0.name == reference.service }) else {
            let near = services.map(\.name).filter { $0.hasSuffix("." + reference.service) || $0.contains(reference.service) }
            let hint = near.isEmpty ? "`karokar list` shows what the server hosts" : "did you mean \(near.joined(separator: ", "))?"
            throw ToolError("unknown service \(reference.service); \(hint)")
        }
        guard let method = service.methods.first(where: { $0.name == reference.method }) else {
            throw ToolError("\(service.name) has no method \(reference.method); it has \(service.methods.map(\.name).joined(separator: ", "))")
        }
        return ResolvedMethod(reference: reference, requestType: method.input.name, responseType: method.output.name)
    }
}
