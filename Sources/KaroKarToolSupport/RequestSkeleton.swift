public import KaroKarMessages
public import KaroKarProto

/// `karokar describe --template`: a JSON skeleton of a message with every field (JSON names),
/// nested messages filled in, the first value of each enum, one element in each repeated field
/// and one entry in each map, and only the first member of each oneof (setting two is an error).
/// `karokar call` accepts it as is. A message that contains itself is cut to `{}` where it recurs.
public enum RequestSkeleton {
    /// The skeleton of `typeName`, from the server's descriptions of it and what it reaches
    /// (`SchemaWalker.describe`).
    public static func json(for typeName: String, types: [RPCV1.DescribeTypeResponse.TypeOneof]) throws(ToolError) -> JSONValue {
        var messages: [String: RPCV1.MessageTypeInfo] = [:], enums: [String: RPCV1.EnumTypeInfo] = [:]
        for type in types {
            switch type {
            case .message(let info): messages[info.name] = info
            case .enum(let info): enums[info.name] = info
            }
        }
        guard messages[typeName] != nil else {
            throw ToolError(enums[typeName] != nil ? "\(typeName) is an enum; a template is for a message type" : "the server does not describe the message type \(typeName)")
        }
        return message(typeName, messages: messages, enums: enums, open: [])
    }

    private static func message(
        _ name: String, messages: [String: RPCV1.MessageTypeInfo], enums: [String: RPCV1.EnumTypeInfo], open: Set<String>
    ) -> JSONValue {
        guard let info = messages[name], !open.contains(name) else { return .object([]) }
        let open = open.union([name])
        var oneofs: Set<String> = []
        var members: [JSONMember] = []
        for field in info.fields {
            if !field.oneof.isEmpty {
                guard oneofs.insert(field.oneof).inserted else { continue }
            }
            let element = value(field, messages: messages, enums: enums, open: open)
            let key = field.jsonName.isEmpty ? field.name : field.jsonName
            if field.map {
                let keyType = ProtoRegistry.messages[name]?.protoSchema.fields.first { $0.name == field.name }?.mapKeyType ?? "string"
                members.append(JSONMember(key, .object([JSONMember(mapKey(keyType), element)])))
            } else {
                members.append(JSONMember(key, field.repeated ? .array([element]) : element))
            }
        }
        return .object(members)
    }

    private static func value(
        _ field: RPCV1.FieldInfo, messages: [String: RPCV1.MessageTypeInfo], enums: [String: RPCV1.EnumTypeInfo], open: Set<String>
    ) -> JSONValue {
        switch field.type {
        case "message":
            // A message that recurs would loop: it ends as {} (a repeated one as an empty list).
            if open.contains(field.typeName) { return .object([]) }
            return message(field.typeName, messages: messages, enums: enums, open: open)
        case "enum": return enums[field.typeName]?.values.first.map { JSONValue.string($0.name) } ?? .number("0")
        case "string": return .string("")
        case "bytes": return .string("")
        case "bool": return .bool(false)
        case "int64", "uint64", "sint64", "fixed64", "sfixed64": return .string("0")
        case "double", "float": return .number("0")
        default: return .number("0")
        }
    }

    private static func mapKey(_ type: String) -> String {
        switch type {
        case "string": "key"
        case "bool": "true"
        default: "0"
        }
    }
}
