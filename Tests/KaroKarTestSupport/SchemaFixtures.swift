public import KaroKarProto
import KaroKarMessages

/// Populated sample values for any generated message, derived from its schema: every field set to
/// a non-default value (the first field of each oneof), so a round trip exercises all generated
/// conversion code, not just defaults.
public enum SchemaFixtures {
    public static func sample(messageNamed name: String, seed: Int = 1) -> JSONValue {
        guard let type = ProtoRegistry.messages[name] else {
            preconditionFailure("unknown message \(name)")
        }
        var members: [JSONMember] = []
        var oneofsSet: Set<String> = []
        for field in type.protoSchema.fields {
            if !field.oneof.isEmpty {
                guard oneofsSet.insert(field.oneof).inserted else { continue }
            }
            members.append(JSONMember(field.jsonName, value(for: field, seed: seed)))
        }
        return .object(members)
    }

    private static func value(for field: ProtoFieldSchema, seed: Int) -> JSONValue {
        if field.map {
            let key = field.mapKeyType == "string" ? "key-\(seed)" : "\(seed)"
            return .object([JSONMember(key, element(type: field.type, typeName: field.typeName, seed: seed))])
        }
        let single = element(type: field.type, typeName: field.typeName, seed: seed)
        return field.repeated ? .array([single, element(type: field.type, typeName: field.typeName, seed: seed + 1)]) : single
    }

    private static func element(type: String, typeName: String, seed: Int) -> JSONValue {
        switch type {
        case "message": return sample(messageNamed: typeName, seed: seed + 1)
        case "enum":
            let values = ProtoRegistry.enums[typeName]!.protoValues
            return .string(values[min(values.count - 1, 1 + seed % max(values.count - 1, 1))].name)
        default: return scalar(type, seed: seed)
        }
    }

    private static func scalar(_ type: String, seed: Int) -> JSONValue {
        switch type {
        case "string": .string("value-\(seed) ✓")
        case "bytes": [UInt8]([0, 1, 2, 0xFF, UInt8(seed & 0xFF)]).protoJSON
        case "bool": .bool(true)
        case "int64", "sint64", "sfixed64": .string("-\(9_000_000_000 + seed)")
        case "uint64", "fixed64": .string("\(18_000_000_000_000_000_000 + UInt64(seed))")
        case "int32", "sint32", "sfixed32": .number("-\(100 + seed)")
        case "uint32", "fixed32": .number("\(4_000_000_000 + seed)")
        case "double", "float": .number("\(seed).5")
        default: preconditionFailure("unexpected scalar \(type)")
        }
    }
}
