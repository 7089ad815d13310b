public import Foundation
import KaroKarMessages
import KaroKarPostgres

/// A point in time, UTC, to the microsecond (DOMAIN.md section 2, "Time"): what domain records,
/// rules and use cases hold. The RPC edge converts it to and from `CommonV1.Timestamp`, the stores
/// bind it as `timestamptz`; neither wire nor SQL types reach the domain.
public struct Instant: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// Microseconds since the Unix epoch.
    public let microseconds: Int64

    public init(microseconds: Int64) {
        self.microseconds = microseconds
    }

    /// `date`, to the microsecond below; clamped to Int64's range of microseconds.
    public init(_ date: Date) {
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded(.down)
        self.microseconds = micros.isFinite ? Int64(exactly: micros) ?? (micros < 0 ? .min : .max) : 0
    }

    public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.microseconds < rhs.microseconds }

    /// Whole seconds since the epoch, rounded down (toward the past).
    public var seconds: Int64 {
        let (quotient, remainder) = microseconds.quotientAndRemainder(dividingBy: 1_000_000)
        return remainder < 0 ? quotient - 1 : quotient
    }

    /// This instant moved by `duration`, saturating at Int64's range instead of trapping.
    public func advanced(by duration: Duration) -> Instant {
        Instant(microseconds: microseconds.addingSaturated(duration.wholeMicroseconds))
    }

    /// The time from `earlier` to this instant, saturating.
    public func since(_ earlier: Instant) -> Duration {
        .microseconds(microseconds.subtractingSaturated(earlier.microseconds))
    }

    public static func + (instant: Instant, duration: Duration) -> Instant { instant.advanced(by: duration) }

    public var description: String { PostgresTimestamp(microseconds: microseconds).postgresText }
}

/// A half-open period `[start, end)` (DOMAIN.md section 2): `end > start` always; a nil `end` is
/// an explicit open end (an indefinite suspension, an open-ended assignment), never a magic date.
public struct Period: Hashable, Sendable, Codable {
    public let start: Instant
    public let end: Instant?

    /// Nil unless `end` is later than `start` (the RPC edge validates before it builds one).
    public init?(start: Instant, end: Instant?) {
        if let end, end <= start { return nil }
        self.start = start
        self.end = end
    }

    /// From `start` on, with no end.
    public static func from(_ start: Instant) -> Period { Period(start: start, end: nil)! }

    public var isOpen: Bool { end == nil }

    /// True when the two periods share at least one instant.
    public func overlaps(_ other: Period) -> Bool {
        (other.end.map { start < $0 } ?? true) && (end.map { other.start < $0 } ?? true)
    }

    public func contains(_ instant: Instant) -> Bool {
        start <= instant && (end.map { instant < $0 } ?? true)
    }
}

// MARK: - Saturating arithmetic (numbers from outside never trap)

extension Int64 {
    func addingSaturated(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    func subtractingSaturated(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other < 0 ? .max : .min) : difference
    }
}

extension Duration {
    /// Whole microseconds, saturating at Int64's range.
    public var wholeMicroseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
        guard !overflow else { return seconds < 0 ? .min : .max }
        return scaled.addingSaturated(attoseconds / 1_000_000_000_000)
    }
}
