/// An instant's calendar fields in UTC (the proleptic Gregorian calendar), by arithmetic alone.
///
/// For text written on hot paths (an e-mail's `Date:` header, the times in a notification's
/// template): Foundation's `DateFormatter` builds an ICU formatter for each new instance, and a
/// shared one is not safe to use from several threads; building one per message was 17% of the
/// notification senders' and planners' CPU (Deploy/bench-notification.sh under `perf`). Days to
/// year, month and day follow Howard Hinnant's `civil_from_days`. Total over every `Int64`: the
/// day count is at most about 10^14, far from any overflow.
public struct CivilTime: Hashable, Sendable {
    public let year: Int64
    /// 1 to 12.
    public let month: Int
    /// 1 to 31.
    public let day: Int
    public let hour: Int
    public let minute: Int
    public let second: Int
    /// 0 is Sunday, 6 Saturday.
    public let weekday: Int

    /// The fields of the second `seconds` after the Unix epoch (before it, when negative).
    public init(secondsSinceEpoch seconds: Int64) {
        let (quotient, remainder) = seconds.quotientAndRemainder(dividingBy: 86_400)
        let days = remainder < 0 ? quotient - 1 : quotient
        let secondOfDay = Int(remainder < 0 ? remainder + 86_400 : remainder)
        hour = secondOfDay / 3_600
        minute = secondOfDay / 60 % 60
        second = secondOfDay % 60
        // 1970-01-01 was a Thursday.
        let week = (days + 4) % 7
        weekday = Int(week < 0 ? week + 7 : week)
        // Days since 0000-03-01, in 400-year eras of 146,097 days.
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        day = Int(dayOfYear - (153 * shiftedMonth + 2) / 5 + 1)
        month = Int(shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9)
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    public init(_ instant: Instant) {
        self.init(secondsSinceEpoch: instant.seconds)
    }

    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `2027-07-01 09:00`.
    public var minuteText: String {
        "\(Self.padded(year, 4))-\(Self.padded(month, 2))-\(Self.padded(day, 2)) \(Self.padded(hour, 2)):\(Self.padded(minute, 2))"
    }

    /// RFC 5322's date-time in UTC: `Thu, 01 Jul 2027 09:00:00 +0000`.
    public var rfc5322: String {
        "\(Self.weekdays[weekday]), \(Self.padded(day, 2)) \(Self.months[month - 1]) \(Self.padded(year, 4)) "
            + "\(Self.padded(hour, 2)):\(Self.padded(minute, 2)):\(Self.padded(second, 2)) +0000"
    }

    /// Zero-padded to `width` digits (a minus sign before them).
    private static func padded(_ value: some BinaryInteger, _ width: Int) -> String {
        let digits = String(value.magnitude)
        let zeros = String(repeating: "0", count: max(0, width - digits.count))
        return (value < 0 ? "-" : "") + zeros + digits
    }
}
