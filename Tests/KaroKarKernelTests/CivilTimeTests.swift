import Foundation
import KaroKarKernel
import Testing

/// `CivilTime` against Foundation's formatter (the one it replaces on the notification paths) for
/// instants across six centuries and around every edge a calendar has, and total (no trap) over
/// every `Instant`.
@Suite("Kernel: civil time in UTC")
struct CivilTimeTests {
    static func foundation(_ format: String, _ seconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.calendar = Calendar(identifier: .gregorian)
        formatter.dateFormat = format
        return formatter.string(from: Date(timeIntervalSince1970: Double(seconds)))
    }

    @Test("the same text as DateFormatter, for edges and 3,000 random instants from 1700 to 2300")
    func matchesFoundation() {
        var generator = SystemRandomNumberGenerator()
        var instants: [Int64] = [
            0, -1, 1, 86_399, 86_400, -86_400, -86_401,
            951_782_400, 951_868_799, 951_868_800,  // 2000-02-29 and around it
            4_107_456_000, 4_107_542_400,  // 2100-02-28, 2100-03-01 (no leap day)
            -2_208_988_800, 253_402_300_799,  // 1900-01-01, 9999-12-31 23:59:59
            -7_258_118_400, -7_258_118_401,  // 1740-01-01 and the second before
        ]
        for _ in 0..<3_000 { instants.append(Int64.random(in: -8_520_336_000...10_413_792_000, using: &generator)) }
        for seconds in instants {
            let civil = CivilTime(Instant(microseconds: seconds * 1_000_000))
            #expect(civil.rfc5322 == Self.foundation("EEE, dd MMM yyyy HH:mm:ss '+0000'", seconds), "\(seconds)")
            #expect(civil.minuteText == Self.foundation("yyyy-MM-dd HH:mm", seconds), "\(seconds)")
        }
    }

    @Test("every Instant is a time: the extremes give fields in range, no trap")
    func totalOverInstants() {
        for microseconds in [Int64.min, Int64.min + 1, Int64.max, Int64.max - 86_400_000_000, -62_135_596_801_000_000] {
            let civil = CivilTime(Instant(microseconds: microseconds))
            #expect((1...12).contains(civil.month) && (1...31).contains(civil.day) && (0...6).contains(civil.weekday))
            #expect((0...23).contains(civil.hour) && (0...59).contains(civil.minute) && (0...59).contains(civil.second))
            #expect(!civil.rfc5322.isEmpty && !civil.minuteText.isEmpty)
        }
        #expect(CivilTime(Instant(microseconds: -62_135_596_801_000_000)).minuteText == "0000-12-31 23:59")
        #expect(CivilTime(Instant(microseconds: 1_814_400_000_000_000)).rfc5322 == "Thu, 01 Jul 2027 00:00:00 +0000")  // date -u -d @1814400000
    }
}
