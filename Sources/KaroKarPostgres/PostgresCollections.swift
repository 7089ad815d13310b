/// A `tstzrange`, half-open `[lower, upper)`; a nil upper bound is open (unbounded).
public struct PostgresTimestampRange: PostgresCodable, Hashable {
    public var lower: PostgresTimestamp
    public var upper: PostgresTimestamp?

    public init(lower: PostgresTimestamp, upper: PostgresTimestamp?) {
        self.lower = lower
        self.upper = upper
    }

    public var postgresText: String {
        "[\"\(lower.postgresText)\",\(upper.map { "\"\($0.postgresText)\"" } ?? ""))"
    }

    public init(postgresText: String) throws {
        guard postgresText.hasPrefix("["), postgresText.hasSuffix(")") else {
            throw PostgresError(code: .decoding, serverMessage: "expected a [lower,upper) range, got \(postgresText.prefix(80))")
        }
        let inner = postgresText.dropFirst().dropLast()
        let parts = inner.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw PostgresError(code: .decoding, serverMessage: "malformed range \(postgresText.prefix(80))")
        }
        func unquote(_ text: Substring) -> String {
            String(text.hasPrefix("\"") && text.hasSuffix("\"") ? text.dropFirst().dropLast() : text)
        }
        lower = try PostgresTimestamp(postgresText: unquote(parts[0]))
        upper = parts[1].isEmpty ? nil : try PostgresTimestamp(postgresText: unquote(parts[1]))
    }
}

/// `jsonb` / `json`, as text.
public struct PostgresJSON: PostgresCodable, Hashable {
    public var text: String

    public init(_ text: String) {
        self.text = text
    }

    public var postgresText: String { text }
    public init(postgresText: String) { text = postgresText }
}

/// One-dimensional arrays (`text[]`, `uuid[]`, `int8[]`, ...); NULL elements are not supported.
extension Array: PostgresEncodable where Element: PostgresEncodable {
    public var postgresText: String {
        // Byte by byte (a quote and a backslash are single UTF-8 bytes that never occur inside a
        // multi-byte sequence): batches of long elements, such as Audit's payloads, stay cheap.
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (index, element) in enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            for byte in element.postgresText.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(byte)
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}

extension Array: PostgresDecodable where Element: PostgresDecodable {
    public init(postgresText: String) throws {
        var elements: [Element] = []
        var characters = postgresText.makeIterator()
        guard characters.next() == "{" else {
            throw PostgresError(code: .decoding, serverMessage: "expected an array, got \(postgresText.prefix(80))")
        }
        var current = ""
        var quoted = false
        var inQuotes = false
        var escaped = false
        func finish() throws {
            if !quoted && current == "NULL" {
                throw PostgresError(code: .decoding, serverMessage: "NULL array elements are not supported")
            }
            elements.append(try Element(postgresText: current))
            current = ""
            quoted = false
        }
        while let character = characters.next() {
            if escaped {
                current.append(character)
                escaped = false
            } else if inQuotes {
                switch character {
                case "\\": escaped = true
                case "\"": inQuotes = false
                default: current.append(character)
                }
            } else {
                switch character {
                case "\"":
                    inQuotes = true
                    quoted = true
                case ",": try finish()
                case "}":
                    if quoted || !current.isEmpty { try finish() }
                    self = elements
                    return
                default: current.append(character)
                }
            }
        }
        throw PostgresError(code: .decoding, serverMessage: "unterminated array \(postgresText.prefix(80))")
    }
}
