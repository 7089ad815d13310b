import Foundation
import KaroKarKernel

/// A corporate's self-booking allocation (DOMAIN.md 6.1): its default (`employee` nil) or one
/// employee's override.
struct Allocation: Sendable, Hashable, Codable {
    var corporateID: UUID
    var employee: UUID?
    /// Non-terminal bookings requested by (or assigned to) the employee at once; 0: no self-booking.
    var maxActiveBookings: Int64
    /// Days of booked periods per calendar month (UTC); 0: no limit.
    var maxDaysPerMonth: Int64
    var version: Int64
    var updatedAt: Instant

    /// Where the corporate's default sorts and is stored among overrides: the zero UUID.
    static let defaultKey = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    /// The key of this allocation in its corporate's list.
    var key: UUID { employee ?? Self.defaultKey }
}

/// What `RemoveEmployeeAllocation` did: whether an override was removed, and what applies now
/// (the corporate's default; nil when never set).
struct AllocationRemoval: Sendable, Hashable, Codable {
    var removed: Bool
    var applies: Allocation?
}

/// An employee's allocation as it applies this month, and what is left of it.
struct AllocationUsage: Sendable, Hashable {
    var employee: UUID
    /// The override, else the default; nil when neither was ever set (all zero).
    var allocation: Allocation?
    var activeBookings: Int64
    var month: Period
    var daysBooked: Int64

    var remainingActiveBookings: Int64 { max(0, (allocation?.maxActiveBookings ?? 0) - activeBookings) }

    /// Nil when the allocation sets no day limit.
    var remainingDays: Int64? {
        guard let limit = allocation?.maxDaysPerMonth, limit > 0 else { return nil }
        return max(0, limit - daysBooked)
    }
}

/// The allocation's arithmetic, pure. A booking's days in a month are the hours of its period
/// inside that month, rounded up to whole days (a 26-hour booking is 2 days).
enum AllocationRules {
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// Throws `ALLOCATION_EXCEEDED` when `new` would take the employee over `allocation`, given
    /// the periods of the employee's other non-terminal bookings.
    static func check(_ allocation: Allocation?, others: [Period], new: Period) throws(DomainError) {
        let limit = allocation?.maxActiveBookings ?? 0
        guard limit > 0 else {
            throw BookingError.allocationExceeded("the corporate has not allowed this employee to book for themselves")
        }
        guard others.count + 1 <= limit else {
            throw BookingError.allocationExceeded("at most \(limit) bookings at once (\(others.count) held)")
        }
        let dayLimit = allocation?.maxDaysPerMonth ?? 0
        guard dayLimit > 0 else { return }
        for month in months(touching: new) {
            let used = others.reduce(Int64(0)) { $0 + days(of: $1, in: month) }
            if used + days(of: new, in: month) > dayLimit {
                throw BookingError.allocationExceeded("at most \(dayLimit) booked days per month (\(used) used in the month of \(month.start))")
            }
        }
    }

    /// Whole days (rounded up) of `period` inside `month`.
    static func days(of period: Period, in month: Period) -> Int64 {
        let start = max(period.start, month.start)
        let end = min(period.end ?? month.end!, month.end!)
        guard end > start else { return 0 }
        let micros = end.microseconds - start.microseconds
        let day: Int64 = 86_400_000_000
        return (micros + day - 1) / day
    }

    /// The UTC calendar month `instant` falls in.
    static func month(of instant: Instant) -> Period {
        let date = Date(timeIntervalSince1970: TimeInterval(instant.seconds))
        let start = utc.date(from: utc.dateComponents([.year, .month], from: date))!
        let end = utc.date(byAdding: .month, value: 1, to: start)!
        return Period(start: Instant(start), end: Instant(end))!
    }

    /// The months a (closed) period touches, in order.
    static func months(touching period: Period) -> [Period] {
        var months = [month(of: period.start)]
        guard let end = period.end else { return months }
        while let last = months.last?.end, last < end {
            months.append(month(of: last))
        }
        return months
    }
}
