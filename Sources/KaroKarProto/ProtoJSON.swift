import ExtrasBase64

/// A value with protobuf's canonical JSON mapping (proto3 JSON).
public protocol ProtoJSONCodable: Sendable {
    var protoJSON: JSONValue { get }
    init(protoJSON: JSONValue) throws
}

/// A value whose default (zero) the JSON mapping omits.
public protocol ProtoDefaultable {
    var isProtoDefault: Bool { get }
}

/// Why JSON could not be read as a message. `path` names the field, e.g. `period.end.seconds`.
public enum ProtoJSONError: Error, Hashable, Sendable, CustomStringConvertible {
    case unknownField(String, message: String)
    case invalidValue(String)
    case duplicateOneof(field: String)
    case expectedObject(message: String)
    indirect case at(path: String, ProtoJSONError)

    public var description: String {
        switch self {
        case .unknownField(let field, let message): "unknown field \"\(field)\" in \(message)"
        case .invalidValue(let reason): reason
        case .duplicateOneof(let field): "\"\(field)\" sets a oneof that is already set"
        case .expectedObject(let message): "\(message) expects a JSON object"
        case .at(let path, let inner):
            if case .at(let innerPath, let innermost) = inner {
                ProtoJSONError.at(path: path + "." + innerPath, innermost).description
            } else {
                "\(path): \(inner.description)"
            }
        }
    }
}

// MARK: - Reading and writing objects (used by generated code)

/// Collects the members of a message's JSON object, omitting defaults as proto3 JSON does.
public struct JSONObjectWriter {
    public private(set) var members: [JSONMember] = []

    public init() {}

    public var value: JSONValue {
        .object(members)
    }

    public mutating func field<T: ProtoJSONCodable & ProtoDefaultable>(_ key: String, _ value: T) {
        if !value.isProtoDefault { members.append(JSONMember(key, value.protoJSON)) }
    }

    public mutating func optional<T: ProtoJSONCodable>(_ key: String, _ value: T?) {
        if let value { members.append(JSONMember(key, value.protoJSON)) }
    }

    public mutating func always<T: ProtoJSONCodable>(_ key: String, _ value: T) {
        members.append(JSONMember(key, value.protoJSON))
    }

    public mutating func repeated<T: ProtoJSONCodable>(_ key: String, _ values: [T]) {
        if !values.isEmpty { members.append(JSONMember(key, .array(values.map(\.protoJSON)))) }
    }

    public mutating func map<K: ProtoMapKey, V: ProtoJSONCodable>(_ key: String, _ values: [K: V]) {
        guard !values.isEmpty else { return }
        let entries = values.keys.sorted().map { JSONMember($0.mapKeyText, values[$0]!.protoJSON) }
        members.append(JSONMember(key, .object(entries)))
    }
}

public enum JSONObjectReader {
    public static func members(of json: JSONValue, message: String) throws -> [(String, JSONValue)] {
        guard case .object(let members) = json else {
            throw ProtoJSONError.expectedObject(message: message)
        }
        return members.map { ($0.key, $0.value) }
    }
}

/// Decoding helpers that name the failing field.
public enum ProtoJSON {
    public static func decode<T: ProtoJSONCodable>(_ json: JSONValue, field: String) throws -> T {
        try at(field) { try T(protoJSON: json) }
    }

    public static func decodeArray<T: ProtoJSONCodable>(_ json: JSONValue, field: String) throws -> [T] {
        guard case .array(let elements) = json else {
            throw ProtoJSONError.at(path: field, .invalidValue("expects a JSON array"))
        }
        return try elements.enumerated().map { index, element in
            try at("\(field)[\(index)]") { try T(protoJSON: element) }
        }
    }

    public static func decodeMap<K: ProtoMapKey, V: ProtoJSONCodable>(_ json: JSONValue, field: String) throws -> [K: V] {
        guard case .object(let members) = json else {
            throw ProtoJSONError.at(path: field, .invalidValue("expects a JSON object"))
        }
        var result: [K: V] = [:]
        for member in members {
            guard let key = K(mapKeyText: member.key) else {
                throw ProtoJSONError.at(path: field, .invalidValue("invalid map key \(JSONValue.string(member.key).jsonText)"))
            }
            result[key] = try at("\(field)[\(member.key)]") { try V(protoJSON: member.value) }
        }
        return result
    }

    private static func at<R>(_ path: String, _ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch let error as ProtoJSONError {
            throw ProtoJSONError.at(path: path, error)
        }
    }
}

// MARK: - Scalars

/// A map key type: written as a JSON object key (always a string).
public protocol ProtoMapKey: Hashable, Comparable, Sendable {
    var mapKeyText: String { get }
    init?(mapKeyText: String)
}

extension String: ProtoJSONCodable, ProtoDefaultable, ProtoMapKey {
    public var protoJSON: JSONValue { .string(self) }
    public var isProtoDefault: Bool { isEmpty }
    public var mapKeyText: String { self }
    public init?(mapKeyText: String) {
        guard !mapKeyText.utf8.contains(0) else { return nil }
        self = mapKeyText
    }

    /// Refuses NUL: protobuf-c hands strings over as C strings, so it would cut the text at the
    /// NUL without a word (a server refuses such requests too, ``ProtoDecodingError/nulInString(field:)``).
    public init(protoJSON json: JSONValue) throws {
        guard case .string(let value) = json else {
            throw ProtoJSONError.invalidValue("expects a JSON string")
        }
        guard !value.utf8.contains(0) else {
            throw ProtoJSONError.invalidValue("holds NUL (U+0000), which a protobuf string here cannot carry")
        }
        self = value
    }
}

extension Bool: ProtoJSONCodable, ProtoDefaultable {
    public var protoJSON: JSONValue { .bool(self) }
    public var isProtoDefault: Bool { !self }

    public init(protoJSON json: JSONValue) throws {
        guard case .bool(let value) = json else {
            throw ProtoJSONError.invalidValue("expects true or false")
        }
        self = value
    }
}

/// `bytes` as protobuf's JSON mapping writes them: standard base64 with padding; on input the
/// standard or the URL-safe alphabet, padded or not.
extension Array: ProtoJSONCodable, ProtoDefaultable where Element == UInt8 {
    public var protoJSON: JSONValue { .string(Base64.encodeToString(bytes: self)) }
    public var isProtoDefault: Bool { isEmpty }

    public init(protoJSON json: JSONValue) throws {
        guard case .string(let text) = json else { throw ProtoJSONError.invalidValue("expects base64 text") }
        // Padding only at the end, at most two, and then to a multiple of four characters.
        let body = text.utf8.prefix { $0 != UInt8(ascii: "=") }
        let padding = text.utf8.count - body.count
        guard padding <= 2, text.utf8.dropFirst(body.count).allSatisfy({ $0 == UInt8(ascii: "=") }),
              padding == 0 || text.utf8.count % 4 == 0
        else { throw ProtoJSONError.invalidValue("expects base64 text") }
        let urlSafe = body.contains { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
        let options: Base64.DecodingOptions = urlSafe ? [.base64UrlAlphabet, .omitPaddingCharacter] : [.omitPaddingCharacter]
        guard let bytes = try? Base64.decode(bytes: Array(body), options: options) else {
            throw ProtoJSONError.invalidValue("expects base64 text")
        }
        self = bytes
    }
}

/// Integers: 32-bit ones are JSON numbers, 64-bit ones strings; both accept either on input,
/// including integral exponent forms such as `1e3`.
public protocol ProtoJSONInteger: FixedWidthInteger, ProtoJSONCodable, ProtoDefaultable, ProtoMapKey {}

extension ProtoJSONInteger {
    public var isProtoDefault: Bool { self == 0 }
    public var mapKeyText: String { String(self) }
    public init?(mapKeyText: String) { self.init(mapKeyText) }

    public init(protoJSON json: JSONValue) throws {
        let text: String
        switch json {
        case .number(let value): text = value
        case .string(let value): text = value
        default: throw ProtoJSONError.invalidValue("expects an integer")
        }
        if let exact = Self(text) {
            self = exact
            return
        }
        guard let double = Double(text), double.rounded() == double, let exact = Self(exactly: double) else {
            throw ProtoJSONError.invalidValue("\"\(text)\" is not a valid \(Self.self)")
        }
        self = exact
    }
}

extension Int32: ProtoJSONInteger {
    public var protoJSON: JSONValue { .number(String(self)) }
}

extension UInt32: ProtoJSONInteger {
    public var protoJSON: JSONValue { .number(String(self)) }
}

extension Int64: ProtoJSONInteger {
    public var protoJSON: JSONValue { .string(String(self)) }
}

extension UInt64: ProtoJSONInteger {
    public var protoJSON: JSONValue { .string(String(self)) }
}

/// Floating point: numbers, with `"NaN"`, `"Infinity"` and `"-Infinity"` as strings.
public protocol ProtoJSONFloat: BinaryFloatingPoint, LosslessStringConvertible, ProtoJSONCodable, ProtoDefaultable {}

extension ProtoJSONFloat {
    public var isProtoDefault: Bool { self == 0 && sign == .plus }

    public var protoJSON: JSONValue {
        if isNaN { return .string("NaN") }
        if isInfinite { return .string(self < 0 ? "-Infinity" : "Infinity") }
        return .number(description)
    }

    public init(protoJSON json: JSONValue) throws {
        switch json {
        case .string("NaN"): self = .nan
        case .string("Infinity"): self = .infinity
        case .string("-Infinity"): self = -.infinity
        case .number(let text), .string(let text):
            guard let value = Self(text), value.isFinite else {
                throw ProtoJSONError.invalidValue("\"\(text)\" is not a valid \(Self.self)")
            }
            self = value
        default:
            throw ProtoJSONError.invalidValue("expects a number")
        }
    }
}

extension Double: ProtoJSONFloat {}
extension Float: ProtoJSONFloat {}
