/// What one connection measured: every measured call ends exactly once, with a latency and a
/// status (the server's code, or a local outcome such as `CONNECTION_LOST`).
struct LoadStats: Sendable {
    /// Local outcomes, counted like statuses.
    enum Local: String, CaseIterable, Sendable {
        case connectionLost = "CONNECTION_LOST"
        case noReply = "NO_REPLY"
        case badReply = "BAD_REPLY"
        case badRequest = "BAD_REQUEST"
    }

    var histogram = LatencyHistogram()
    /// Indexed by status code 0...16; other code numbers in `otherCodes`.
    private(set) var codeCounts = [Int](repeating: 0, count: 17)
    private(set) var otherCodes: [Int32: Int] = [:]
    private(set) var localCounts: [Local: Int] = [:]
    private(set) var domainCodes: [String: Int] = [:]
    /// Uptime nanoseconds of the last measured completion.
    private(set) var lastCompletion: UInt64 = 0
    /// The message of the first failed call, to explain a failing scenario step.
    var firstFailure: String?
    /// Completions over time, when the run keeps them (for the HTML report's charts).
    var series: TimeSeries?

    init(series: TimeSeries? = nil) {
        self.series = series
    }

    var requests: Int { Int(histogram.count) }
    var failures: Int { requests - codeCounts[0] }

    mutating func record(code: Int32, domainCode: String?, latency: UInt64, at now: UInt64) {
        if code >= 0 && code < 17 {
            codeCounts[Int(code)] += 1
        } else {
            otherCodes[code, default: 0] += 1
        }
        if let domainCode, !domainCode.isEmpty { domainCodes[domainCode, default: 0] += 1 }
        finish(latency: latency, failed: code != 0, at: now)
    }

    mutating func record(_ local: Local, latency: UInt64, at now: UInt64) {
        localCounts[local, default: 0] += 1
        finish(latency: latency, failed: true, at: now)
    }

    private mutating func finish(latency: UInt64, failed: Bool, at now: UInt64) {
        histogram.record(nanoseconds: latency)
        series?.record(latency: latency, failed: failed, at: now)
        lastCompletion = max(lastCompletion, now)
    }

    mutating func merge(_ other: LoadStats) {
        histogram.merge(other.histogram)
        for index in codeCounts.indices { codeCounts[index] += other.codeCounts[index] }
        otherCodes.merge(other.otherCodes, uniquingKeysWith: +)
        localCounts.merge(other.localCounts, uniquingKeysWith: +)
        domainCodes.merge(other.domainCodes, uniquingKeysWith: +)
        lastCompletion = max(lastCompletion, other.lastCompletion)
        firstFailure = firstFailure ?? other.firstFailure
        if let theirs = other.series {
            if series == nil { series = theirs } else { series!.merge(theirs) }
        }
    }

    /// Status name to count, for reports; names from `name(code)`.
    func statuses(name: (Int32) -> String) -> [(String, Int)] {
        let server = codeCounts.enumerated().filter { $0.element > 0 }.map { (name(Int32($0.offset)), $0.element) }
        let other = otherCodes.map { (name($0.key), $0.value) }
        let local = localCounts.map { ($0.key.rawValue, $0.value) }
        return (server + other + local).sorted { $0.0 < $1.0 }
    }
}
