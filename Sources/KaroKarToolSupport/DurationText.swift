/// Durations as the tools take them: `250ms`, `2s`, `1.5s`, `1m`, `100us`, or a bare number of seconds.
public enum DurationText {
    private static let units: [(suffix: String, nanoseconds: Double)] = [
        ("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
    ]

    public static func parse(_ text: String) throws(ToolError) -> Duration {
        let trimmed = text.trimmingSpaces
        let unit = units.first { trimmed.hasSuffix($0.suffix) && Double(trimmed.dropLast($0.suffix.count)) != nil }
        let number = unit.map { String(trimmed.dropLast($0.suffix.count)) } ?? trimmed
        guard let value = Double(number), value.isFinite, value >= 0 else {
            throw ToolError("\"\(text)\" is not a duration; write e.g. 500ms, 10s, 2m (a bare number means seconds)")
        }
        let nanoseconds = value * (unit?.nanoseconds ?? 1e9)
        guard nanoseconds < 1e18 else { throw ToolError("\"\(text)\" is too long a duration") }
        return .nanoseconds(Int64(nanoseconds.rounded()))
    }

    /// `1.5s`, `250ms`, `80µs`: short text for reports.
    public static func format(_ duration: Duration) -> String {
        let nanoseconds = duration.inSeconds * 1e9
        if nanoseconds >= 1e9 { return trim(nanoseconds / 1e9) + "s" }
        if nanoseconds >= 1e6 { return trim(nanoseconds / 1e6) + "ms" }
        return trim(nanoseconds / 1e3) + "µs"
    }

    private static func trim(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        return rounded == rounded.rounded() ? String(Int64(rounded)) : String(rounded)
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    public var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
