import KaroKarPostgres

/// An instant's calendar fields in UTC (the proleptic Gregorian calendar), by arithmetic alone:
/// `PostgresTimestamp`'s calendar (Howard Hinnant's civil-from-days), exact for every instant.
///
/// For text written on hot paths (an e-mail's `Date:` header, the times in a notification's
/// template): Foundation's `DateFormatter` builds an ICU formatter for each new instance, and a
/// shared one is not safe to use from several threads; building one per message was 17% of the
/// notification senders' and planners' CPU (Deploy/bench-notification.sh under `perf`).
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

    public init(_ instant: Instant) {
        let (days, secondOfDay) = PostgresTimestamp.floorDivide(instant.seconds, 86_400)
        hour = Int(secondOfDay / 3_600)
        minute = Int(secondOfDay / 60 % 60)
        second = Int(secondOfDay % 60)
        // 1970-01-01 was a Thursday; |days| < 1.1 * 10^8, so `days + 4` cannot overflow.
        weekday = Int(PostgresTimestamp.floorDivide(days + 4, 7).remainder)
        let civil = PostgresTimestamp.civil(fromDays: days)
        year = civil.year
        month = Int(civil.month)
        day = Int(civil.day)
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
