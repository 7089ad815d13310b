public import KaroKarMessages
import KaroKarProto

/// The text of `karokar list` and `karokar describe`: services, methods and types in a
/// `.proto`-like notation.
public enum CatalogText {
    public static func services(_ services: [RPCV1.ServiceInfo]) -> String {
        services.map { service in
            ([service.name] + service.methods.map { "  " + signature($0) }).joined(separator: "\n")
        }.joined(separator: "\n\n")
    }

    /// `Echo(karokar.rpc.v1.EchoRequest) returns (karokar.rpc.v1.EchoResponse)  [public]`
    public static func signature(_ method: RPCV1.MethodInfo) -> String {
        "\(method.name)(\(method.requestType)) returns (\(method.responseType))" + (method.public ? "  [public]" : "")
    }

    public static func method(_ method: RPCV1.MethodInfo) -> String {
        [
            method.path,
            "  request:  \(method.requestType)",
            "  response: \(method.responseType)",
            "  " + (method.public ? "public (no credentials needed)" : "needs credentials (karokar login)")
                + ", requests up to \(method.maxRequestBytes) bytes",
        ].joined(separator: "\n")
    }

    public static func type(_ type: RPCV1.DescribeTypeResponse.TypeOneof) -> String {
        switch type {
        case .message(let info): message(info)
        case .enum(let info): enumeration(info)
        }
    }

    public static func message(_ info: RPCV1.MessageTypeInfo) -> String {
        var lines = ["message \(info.name) {"]
        var openOneof = ""
        for field in info.fields {
            if field.oneof != openOneof {
                if !openOneof.isEmpty { lines.append("  }") }
                if !field.oneof.isEmpty { lines.append("  oneof \(field.oneof) {") }
                openOneof = field.oneof
            }
            lines.append((openOneof.isEmpty ? "  " : "    ") + declaration(field, in: info.name))
        }
        if !openOneof.isEmpty { lines.append("  }") }
        lines.append("}")
        return lines.joined(separator: "\n")
    }

    public static func enumeration(_ info: RPCV1.EnumTypeInfo) -> String {
        (["enum \(info.name) {"] + info.values.map { "  \($0.name) = \($0.number);" } + ["}"]).joined(separator: "\n")
    }

    private static func declaration(_ field: RPCV1.FieldInfo, in message: String) -> String {
        let valueType = field.typeName.isEmpty ? field.type : field.typeName
        let type: String
        if field.map {
            type = "map<\(mapKeyType(field, in: message)), \(valueType)>"
        } else {
            type = (field.repeated ? "repeated " : "") + valueType
        }
        let json = field.jsonName != field.name && !field.jsonName.isEmpty ? "  // JSON: \(field.jsonName)" : ""
        return "\(type) \(field.name) = \(field.number);\(json)"
    }

    /// Reflection describes a map field by its value; the key type comes from this build's schema.
    private static func mapKeyType(_ field: RPCV1.FieldInfo, in message: String) -> String {
        let local = ProtoRegistry.messages[message]?.protoSchema.fields.first { $0.name == field.name }
        return local?.mapKeyType ?? "key"
    }
}
