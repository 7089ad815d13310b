public import Foundation
public import KaroKarMessages
import KaroKarPostgres
public import KaroKarProto
public import KaroKarRPC

/// Collects every field violation of a request, then refuses it as a whole (INVALID_ARGUMENT with
/// one ``CommonV1/FieldViolation`` each), before anything is written.
///
///     var check = Validation()
///     let id = check.uuid(request.vehicleId, "vehicleId")
///     let name = check.text(request.name, "name", maximumLength: 200)
///     try check.finish()
public struct Validation: Sendable {
    public private(set) var violations: [CommonV1.FieldViolation] = []

    public init() {}

    public mutating func add(_ field: String, _ code: String, _ description: String) {
        violations.append(CommonV1.FieldViolation(field: field, code: code, description: description))
    }

    /// Throws INVALID_ARGUMENT with every violation collected; returns when there is none.
    public func finish() throws(RPCError) {
        guard violations.isEmpty else { throw RPCError.invalidArgument(violations) }
    }

    /// A required, lower-case UUID (DOMAIN.md: "UUID v4 everywhere, as lowercase strings").
    public mutating func uuid(_ text: String, _ field: String) -> UUID {
        guard !text.isEmpty else {
            add(field, "REQUIRED", "\(field) is required")
            return UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        }
        return parsedUUID(text, field)
    }

    /// An optional UUID: nil when empty.
    public mutating func optionalUUID(_ text: String, _ field: String) -> UUID? {
        text.isEmpty ? nil : parsedUUID(text, field)
    }

    private mutating func parsedUUID(_ text: String, _ field: String) -> UUID {
        guard text.utf8.count == 36, let id = UUID(hyphenated: text), !text.utf8.contains(where: { (65...70).contains($0) }) else {
            add(field, "MALFORMED", "\(field) must be a UUID in lower case")
            return UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        }
        return id
    }

    /// Trimmed text, required unless `required` is false, at most `maximumLength` characters,
    /// without control characters.
    ///
    /// The one rule for lengths (Protos/PROTOCOL.md, section 17): a character is a Unicode scalar
    /// (a code point), which is what PostgreSQL's `char_length` counts in the `CHECK`s, not a
    /// grapheme cluster (Swift's `Character`: "é" written as `e` and a combining accent is one
    /// `Character` and two scalars) and not a byte. So a value this accepts always fits the column
    /// whose `CHECK` has the same limit. Control characters (NUL among them, which PostgreSQL's
    /// text cannot hold) are refused.
    public mutating func text(_ value: String, _ field: String, maximumLength: Int, required: Bool = true) -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty {
            if required { add(field, "REQUIRED", "\(field) is required") }
        } else if trimmed.unicodeScalars.count > maximumLength {
            add(field, "TOO_LONG", "\(field) is longer than \(maximumLength) characters (Unicode code points)")
        } else if trimmed.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) {
            add(field, "MALFORMED", "\(field) contains control characters")
        }
        return trimmed
    }

    /// An e-mail address, normalized to lower case. Deliberately simple: one `@`, a dotted domain.
    /// Lowered before its length is checked: lowering can add code points (`İ` becomes `i` and a
    /// combining dot), and the column's `CHECK` counts the stored, lowered form.
    public mutating func email(_ value: String, _ field: String) -> String {
        let email = text(value.lowercased(), field, maximumLength: 254)
        guard !email.isEmpty else { return email }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        let valid = parts.count == 2 && !parts[0].isEmpty && parts[0].utf8.count <= 64
            && parts[1].split(separator: ".", omittingEmptySubsequences: false).count >= 2
            && parts[1].split(separator: ".", omittingEmptySubsequences: false).allSatisfy { !$0.isEmpty }
            && !email.contains(where: { $0.isWhitespace })
        if !valid { add(field, "MALFORMED", "\(field) is not an e-mail address") }
        return email
    }

    /// An integer within `range`.
    public mutating func range<T: BinaryInteger>(_ value: T, _ field: String, _ range: ClosedRange<T>) -> T {
        if !range.contains(value) { add(field, "OUT_OF_RANGE", "\(field) must be between \(range.lowerBound) and \(range.upperBound)") }
        return value
    }

    /// A known, non-default enum value.
    public mutating func known<E: ProtoEnum>(_ value: E, _ field: String) -> E {
        if value.isProtoDefault || !value.isKnown { add(field, value.isProtoDefault ? "REQUIRED" : "UNKNOWN_VALUE", "\(field) must be one of the documented values") }
        return value
    }
}

extension Validation {
    /// A required instant: present, `nanos` in range, between years 1900 and 9999 (the business
    /// range: well inside PostgreSQL's `timestamptz`, and inside `Int64` microseconds, so that
    /// nothing downstream can overflow or be refused by the database). Anything else, `Int64`'s
    /// ends included, is OUT_OF_RANGE.
    public mutating func instant(_ value: CommonV1.Timestamp?, _ field: String) -> Instant {
        guard let value else {
            add(field, "REQUIRED", "\(field) is required")
            return Instant(microseconds: 0)
        }
        guard (0...999_999_999).contains(value.nanos), Self.instants.contains(value.seconds) else {
            add(field, "OUT_OF_RANGE", "\(field) must be a valid instant between 1900 and 9999")
            return Instant(microseconds: 0)
        }
        return Instant(microseconds: value.seconds * 1_000_000 + Int64(value.nanos / 1000))
    }

    /// A closed half-open period `[start, end)` with `end > start`.
    public mutating func period(_ value: CommonV1.Period?, _ field: String) -> Period {
        guard let value else {
            add(field, "REQUIRED", "\(field) is required")
            return Self.placeholder
        }
        let before = violations.count
        let start = instant(value.start, field + ".start")
        return bounded(start, end: instant(value.end, field + ".end"), field, valid: violations.count == before)
    }

    /// A period whose end may be open (absent `end`); a present end must be later than `start`.
    public mutating func openPeriod(_ value: CommonV1.OpenPeriod?, _ field: String) -> Period {
        guard let value else {
            add(field, "REQUIRED", "\(field) is required")
            return Self.placeholder
        }
        let before = violations.count
        let start = instant(value.start, field + ".start")
        guard let end = value.end else { return .from(start) }
        return bounded(start, end: instant(end, field + ".end"), field, valid: violations.count == before)
    }

    /// `[start, end)`, or a violation on `end` (unless an instant was refused already).
    private mutating func bounded(_ start: Instant, end: Instant, _ field: String, valid: Bool) -> Period {
        if let period = Period(start: start, end: end) { return period }
        if valid { add(field + ".end", "OUT_OF_RANGE", "\(field).end must be later than \(field).start") }
        return Self.placeholder
    }

    /// What a refused period reads as (the request is refused as a whole at ``finish()``).
    private static let placeholder = Period.from(Instant(microseconds: 0))

    /// Seconds since the epoch a request may name: 1900-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
    public static let instants: ClosedRange<Int64> = -2_208_988_800...253_402_300_799
}
