/// A JSON document, with object members kept in order and numbers kept as their text so that
/// 64-bit integers survive (protobuf's JSON mapping writes int64 as strings, but accepts numbers).
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// The number's literal text, as parsed or as produced.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    /// The members of an object, or nil.
    public var objectMembers: [JSONMember]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// The value of the first member named `key` of an object.
    public subscript(key: String) -> JSONValue? {
        objectMembers?.first { $0.key == key }?.value
    }
}

/// One `"key": value` pair of a JSON object.
public struct JSONMember: Sendable, Hashable {
    public var key: String
    public var value: JSONValue

    public init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }
}
