public import KaroKarProto
import KaroKarMessages

/// JSON in, protobuf out and back, for any generated message type named at run time: what the
/// `karokar` CLI sends and prints, and how `karokar-bench` builds its requests.
public enum MessageCodec {
    /// The generated type with this fully qualified name.
    public static func type(named name: String) throws(ToolError) -> any ProtoMessage.Type {
        guard let type = ProtoRegistry.messages[name] else {
            throw ToolError("this build does not know the message type \(name); rebuild the tools from the server's protos")
        }
        return type
    }

    /// Parses JSON text (proto3 JSON mapping) as a `typeName` message and encodes it.
    public static func encode(jsonText: String, typeName: String) throws(ToolError) -> [UInt8] {
        try encode(json: parse(jsonText), typeName: typeName)
    }

    /// Encodes an already parsed JSON value as a `typeName` message.
    public static func encode(json: JSONValue, typeName: String) throws(ToolError) -> [UInt8] {
        let type = try type(named: typeName)
        do {
            return try encode(type, json)
        } catch {
            throw ToolError("the request is not a valid \(typeName): \(error)")
        }
    }

    /// Decodes `bytes` as a `typeName` message and returns its JSON form.
    public static func json(from bytes: [UInt8], typeName: String) throws(ToolError) -> JSONValue {
        let type = try type(named: typeName)
        do {
            return try decode(type, bytes)
        } catch {
            throw ToolError("the reply is not a valid \(typeName): \(error)")
        }
    }

    /// Parses JSON text, with the position of a syntax error in the message.
    public static func parse(_ text: String) throws(ToolError) -> JSONValue {
        do {
            return try JSONParser.parse(text)
        } catch {
            throw ToolError("\(error)")
        }
    }

    private static func encode<M: ProtoMessage>(_ type: M.Type, _ json: JSONValue) throws -> [UInt8] {
        ProtoCodec.encode(try M(protoJSON: json))
    }

    private static func decode<M: ProtoMessage>(_ type: M.Type, _ bytes: [UInt8]) throws -> JSONValue {
        try ProtoCodec.decode(M.self, from: bytes).protoJSON
    }
}
