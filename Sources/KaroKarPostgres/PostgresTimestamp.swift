/// A `timestamptz` with microsecond precision, always UTC. Sessions run with TimeZone=UTC and
/// DateStyle=ISO, so PostgreSQL prints `2026-11-22 05:10:00.123456+00` (and `… BC` before year 1).
///
/// Every initializer and accessor is total: any `Int64` (from a request, a token, a cursor) gives
/// a value, and no arithmetic here can trap. A value outside ``postgresRange`` is still a value;
/// PostgreSQL refuses it (22008), so callers check input against that range (or a narrower
/// business range) first.
public struct PostgresTimestamp: PostgresCodable, Hashable, Comparable {
    /// Microseconds since the Unix epoch.
    public var microseconds: Int64

    /// The instants PostgreSQL's `timestamptz` can hold, in microseconds since the Unix epoch:
    /// from 4714-11-24 00:00:00 BC (Julian day 0). Its upper end, 294276 AD, lies beyond `Int64`.
    public static let postgresRange: ClosedRange<Int64> = -210_866_803_200_000_000...Int64.max

    public init(microseconds: Int64) {
        self.microseconds = microseconds
    }

    /// `seconds` and `nanos` (truncated to microseconds) since the epoch, clamped to what
    /// `Int64` microseconds can express (about 292,000 years either side of 1970).
    public init(seconds: Int64, nanos: Int32 = 0) {
        self.microseconds = Int64(clamping: Int128(seconds) * 1_000_000 + Int128(nanos / 1000))
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.microseconds < rhs.microseconds }

    /// Whole seconds since the epoch, rounded down (so that ``nanos`` is never negative).
    public var seconds: Int64 { Self.floorDivide(microseconds, 1_000_000).quotient }

    /// The fraction of the second, 0 ..< 1,000,000,000 (in steps of 1,000).
    public var nanos: Int32 { Int32(Self.floorDivide(microseconds, 1_000_000).remainder) * 1000 }

    /// Whether PostgreSQL can store this instant.
    public var isWithinPostgresRange: Bool { Self.postgresRange.contains(microseconds) }

    /// `(q, r)` with `value = q * divisor + r` and `0 <= r < divisor`, for a positive divisor.
    /// Cannot overflow: `|q| <= |value|`.
    public static func floorDivide(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }

    // MARK: - Text form

    public var postgresText: String {
        let (seconds, micros) = Self.floorDivide(microseconds, 1_000_000)
        let (days, secondOfDay) = Self.floorDivide(seconds, 86_400)
        let (year, month, day) = Self.civil(fromDays: days)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        // Year 0 is 1 BC, year -1 is 2 BC (ISO 8601's astronomical numbering; PostgreSQL writes BC).
        let era = year > 0 ? "" : " BC"
        let time = "\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(micros, 6))"
        return "\(pad(year > 0 ? year : 1 - year, 4))-\(pad(month, 2))-\(pad(day, 2)) \(time)+00\(era)"
    }

    /// Reads `YYYY-MM-DD HH:MM:SS[.ffffff]+00[ BC]`, the year with four or more digits; throws for
    /// anything else, including instants beyond `Int64` microseconds (PostgreSQL holds a few
    /// centuries more) and `infinity`.
    public init(postgresText: String) throws {
        guard let microseconds = Self.parse(Array(postgresText.utf8)) else {
            throw PostgresError(code: .decoding, serverMessage: "cannot read \(postgresText.prefix(64)) as PostgresTimestamp")
        }
        self.microseconds = microseconds
    }

    private static func parse(_ utf8: [UInt8]) -> Int64? {
        var index = 0
        func number(digits: ClosedRange<Int>, then separator: UInt8?) -> Int64? {
            var value: Int64 = 0
            let start = index
            while index < utf8.count, index - start < digits.upperBound, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(utf8[index]) {
                value = value * 10 + Int64(utf8[index] - UInt8(ascii: "0"))
                index += 1
            }
            guard digits.contains(index - start) else { return nil }
            if let separator {
                guard index < utf8.count, utf8[index] == separator else { return nil }
                index += 1
            }
            return value
        }
        guard let year = number(digits: 4...7, then: UInt8(ascii: "-")), let month = number(digits: 2...2, then: UInt8(ascii: "-")),
              let day = number(digits: 2...2, then: UInt8(ascii: " ")), let hour = number(digits: 2...2, then: UInt8(ascii: ":")),
              let minute = number(digits: 2...2, then: UInt8(ascii: ":")), let second = number(digits: 2...2, then: nil),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60
        else { return nil }
        var micros: Int64 = 0
        if index < utf8.count, utf8[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            guard let fraction = number(digits: 1...6, then: nil) else { return nil }
            micros = fraction * [1, 100_000, 10_000, 1000, 100, 10, 1][index - start]
        }
        let rest = utf8[index...]
        let bc: Bool
        switch String(decoding: rest, as: UTF8.self) {
        case "+00": bc = false
        case "+00 BC": bc = true
        default: return nil
        }
        let days = days(fromCivil: bc ? 1 - year : year, month, day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second  // |days| < 10^9: no overflow
        return Int64(exactly: Int128(seconds) * 1_000_000 + Int128(micros))
    }

    // MARK: - Calendar

    // Howard Hinnant's civil-from-days algorithms (proleptic Gregorian calendar). Exact for any
    // day count an Int64 of microseconds can produce (|days| < 1.1 * 10^8).
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// (year, month, day) of the day `days` after 1970-01-01 (before it, when negative).
    public static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
