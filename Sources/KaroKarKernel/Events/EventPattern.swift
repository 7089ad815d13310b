/// A subscription's selector over event names: an exact name (`booking.approved`), every event of
/// an aggregate (`booking.*`), or everything (`*`).
public struct EventPattern: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let description: String

    /// Traps on a malformed literal: patterns are written by developers, not read from input.
    public init(stringLiteral value: String) {
        precondition(Self.isValid(value), "invalid event pattern \(value)")
        description = value
    }

    public func matches(_ eventType: String) -> Bool {
        if description == "*" { return true }
        if description.hasSuffix(".*") {
            return eventType.hasPrefix(description.dropLast())
        }
        return description == eventType
    }

    /// The pattern for SQL's `LIKE` (backslash escapes): `*` is `%`, `booking.*` is `booking.%`,
    /// a name is itself with its underscores escaped.
    var likePattern: String {
        if description == "*" { return "%" }
        let escaped = description.replacingOccurrences(of: "_", with: "\\_")
        return description.hasSuffix(".*") ? String(escaped.dropLast()) + "%" : escaped
    }

    static func isValid(_ pattern: String) -> Bool {
        pattern == "*" || EventName.isValid(pattern) || (pattern.hasSuffix(".*") && EventName.isSegment(pattern.dropLast(2)))
    }
}

/// Event names are `<aggregate>.<past_tense_verb>`: lower case, digits and underscores, dotted.
enum EventName {
    static func isValid(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count >= 2 && name.utf8.count <= 100 && parts.allSatisfy(isSegment)
    }

    static func isSegment(_ part: Substring) -> Bool {
        guard let first = part.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) else { return false }
        return part.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "_")
        }
    }
}
