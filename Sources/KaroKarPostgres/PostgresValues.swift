public import Foundation

/// A Swift value sent as a bind parameter, in PostgreSQL's text format.
public protocol PostgresEncodable: Sendable {
    var postgresText: String { get }
}

/// A Swift value read from a result column in PostgreSQL's text format.
public protocol PostgresDecodable: Sendable {
    init(postgresText: String) throws
}

public typealias PostgresCodable = PostgresEncodable & PostgresDecodable

private func decodingError(_ text: String, _ type: Any.Type) -> PostgresError {
    PostgresError(code: .decoding, serverMessage: "cannot read \(text.prefix(64)) as \(type)")
}

extension String: PostgresCodable {
    public var postgresText: String { self }
    public init(postgresText: String) { self = postgresText }
}

extension Bool: PostgresCodable {
    public var postgresText: String { self ? "t" : "f" }

    public init(postgresText: String) throws {
        switch postgresText {
        case "t": self = true
        case "f": self = false
        default: throw decodingError(postgresText, Bool.self)
        }
    }
}

/// Integers: int2, int4, int8.
public protocol PostgresInteger: FixedWidthInteger, PostgresCodable {}

extension PostgresInteger {
    public var postgresText: String { String(self) }

    public init(postgresText: String) throws {
        guard let value = Self(postgresText) else { throw decodingError(postgresText, Self.self) }
        self = value
    }
}

extension Int: PostgresInteger {}
extension Int16: PostgresInteger {}
extension Int32: PostgresInteger {}
extension Int64: PostgresInteger {}

extension Double: PostgresCodable {
    public var postgresText: String { description }

    public init(postgresText: String) throws {
        guard let value = Double(postgresText) else { throw decodingError(postgresText, Double.self) }
        self = value
    }
}

extension UUID: PostgresCodable {
    /// Lower case, as the wire protocol and PostgreSQL both write UUIDs.
    public var postgresText: String { lowercasedString }

    public init(postgresText: String) throws {
        guard let value = UUID(hyphenated: postgresText) else { throw decodingError(postgresText, UUID.self) }
        self = value
    }
}

extension UUID {
    /// A random (version 4) UUID from the system's CSPRNG (`arc4random_buf`: one `getrandom`
    /// call at most). Foundation's `UUID()` opens, reads and closes `/dev/urandom` for each one:
    /// three system calls and a file descriptor on every write path.
    public static func random() -> UUID {
        var bytes = (UInt64(0), UInt64(0))
        return withUnsafeMutableBytes(of: &bytes) { buffer in
            arc4random_buf(buffer.baseAddress!, 16)
            buffer[6] = buffer[6] & 0x0F | 0x40  // version 4
            buffer[8] = buffer[8] & 0x3F | 0x80  // RFC 4122 variant
            return UUID(uuid: (buffer[0], buffer[1], buffer[2], buffer[3], buffer[4], buffer[5], buffer[6], buffer[7],
                               buffer[8], buffer[9], buffer[10], buffer[11], buffer[12], buffer[13], buffer[14], buffer[15]))
        }
    }

    /// A time-ordered (version 7, RFC 9562) UUID: the Unix time in milliseconds (clamped to 0 ...
    /// 2^48 - 1) in its first 48 bits, then 74 random bits. Keys made so arrive in about the
    /// order of their indexes: a new entry lands on the index's last pages, not on a random leaf
    /// (fewer pages dirtied and written whole to the WAL after each checkpoint, in tables that
    /// take thousands of rows a second: events, audit records, notification deliveries).
    public static func timeOrdered(unixMilliseconds: Int64) -> UUID {
        let milliseconds = UInt64(clamping: min(max(unixMilliseconds, 0), (1 << 48) - 1))
        var bytes = random().uuid
        withUnsafeMutableBytes(of: &bytes) { buffer in
            for index in 0..<6 { buffer[index] = UInt8(truncatingIfNeeded: milliseconds >> (40 - 8 * UInt64(index))) }
            buffer[6] = buffer[6] & 0x0F | 0x70  // version 7
        }
        return UUID(uuid: bytes)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// The hyphenated lower-case form (`6f1c…-…`), as the wire and PostgreSQL write UUIDs. Written
    /// by hand: Foundation's `uuidString` formats with `snprintf` and is upper case.
    public var lowercasedString: String {
        withUnsafeBytes(of: uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { out in
                var index = 0
                for (offset, byte) in bytes.enumerated() {
                    if offset == 4 || offset == 6 || offset == 8 || offset == 10 {
                        out[index] = UInt8(ascii: "-")
                        index += 1
                    }
                    out[index] = Self.hexDigits[Int(byte >> 4)]
                    out[index + 1] = Self.hexDigits[Int(byte & 0x0F)]
                    index += 2
                }
                return index
            }
        }
    }

    /// Parses the 36-character hyphenated form, either case; nil for anything else. (Foundation's
    /// `UUID(hyphenated:)` goes through `sscanf`.)
    public init?(hyphenated text: some StringProtocol) {
        var bytes = [UInt8](repeating: 0, count: 16)
        var count = 0
        var high: UInt8?
        var position = 0
        for character in text.utf8 {
            defer { position += 1 }
            if position == 8 || position == 13 || position == 18 || position == 23 {
                guard character == UInt8(ascii: "-") else { return nil }
                continue
            }
            let nibble: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = character - UInt8(ascii: "A") + 10
            default: return nil
            }
            guard count < 16 else { return nil }
            if let first = high {
                bytes[count] = first << 4 | nibble
                count += 1
                high = nil
            } else {
                high = nibble
            }
        }
        guard position == 36, count == 16 else { return nil }
        self.init(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                         bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}

/// `bytea`, in hex format.
public struct PostgresBytes: PostgresCodable, Hashable {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public var postgresText: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 2 + 2 * bytes.count) { buffer in
            buffer[0] = UInt8(ascii: "\\")
            buffer[1] = UInt8(ascii: "x")
            for (index, byte) in bytes.enumerated() {
                buffer[2 + 2 * index] = digits[Int(byte >> 4)]
                buffer[3 + 2 * index] = digits[Int(byte & 0x0F)]
            }
            return 2 + 2 * bytes.count
        }
    }

    public init(postgresText: String) throws {
        var utf8 = postgresText.utf8.makeIterator()
        guard utf8.next() == UInt8(ascii: "\\"), utf8.next() == UInt8(ascii: "x"), postgresText.utf8.count % 2 == 0 else {
            throw decodingError(postgresText, PostgresBytes.self)
        }
        func nibble(_ character: UInt8) -> UInt8? {
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(postgresText.utf8.count / 2 - 1)
        while let high = utf8.next() {
            guard let low = utf8.next(), let h = nibble(high), let l = nibble(low) else { throw decodingError(postgresText, PostgresBytes.self) }
            bytes.append(h << 4 | l)
        }
        self.bytes = bytes
    }
}
