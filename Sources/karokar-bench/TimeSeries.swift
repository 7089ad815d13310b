/// Completions over time, for the report's throughput and percentile charts: calls, failures and
/// a coarse latency histogram per window. At most `maximumWindows` windows: a longer run doubles
/// the window width (merging neighbours), so memory stays bounded however long it runs.
struct TimeSeries: Sendable, Equatable {
    static let maximumWindows = 240

    struct Window: Sendable, Equatable {
        var calls = 0
        var failures = 0
        var histogram = CoarseHistogram()

        mutating func merge(_ other: Window) {
            calls += other.calls
            failures += other.failures
            histogram.merge(other.histogram)
        }
    }

    /// Uptime nanoseconds of the first window's start.
    let origin: UInt64
    private(set) var width: UInt64
    private(set) var windows: [Window] = []

    init(origin: UInt64, width: UInt64) {
        self.origin = origin
        self.width = max(width, 1_000_000)
    }

    mutating func record(latency: UInt64, failed: Bool, at now: UInt64) {
        guard now >= origin else { return }
        var index = Int((now - origin) / width)
        while index >= Self.maximumWindows {
            coarsen()
            index = Int((now - origin) / width)
        }
        if index >= windows.count { windows.append(contentsOf: repeatElement(Window(), count: index - windows.count + 1)) }
        windows[index].calls += 1
        if failed { windows[index].failures += 1 }
        windows[index].histogram.record(latency)
    }

    mutating func merge(_ other: TimeSeries) {
        var other = other
        while other.width < width { other.coarsen() }
        while width < other.width { coarsen() }
        if other.windows.count > windows.count { windows.append(contentsOf: repeatElement(Window(), count: other.windows.count - windows.count)) }
        for (index, window) in other.windows.enumerated() { windows[index].merge(window) }
    }

    private mutating func coarsen() {
        width *= 2
        windows = stride(from: 0, to: windows.count, by: 2).map { index in
            var window = windows[index]
            if index + 1 < windows.count { window.merge(windows[index + 1]) }
            return window
        }
    }
}

/// Latencies in log-linear buckets, 16 per power of two (within about 6%): small enough to keep
/// one per window of a time series.
struct CoarseHistogram: Sendable, Equatable {
    private static let subBucketBits = 4
    private static let subBuckets = 1 << subBucketBits
    private var counts: [UInt32] = []
    private(set) var count: UInt64 = 0

    mutating func record(_ value: UInt64) {
        let index = Self.index(of: value)
        if index >= counts.count { counts.append(contentsOf: repeatElement(0, count: index - counts.count + 1)) }
        counts[index] &+= 1
        count += 1
    }

    mutating func merge(_ other: CoarseHistogram) {
        if other.counts.count > counts.count { counts.append(contentsOf: repeatElement(0, count: other.counts.count - counts.count)) }
        for (index, value) in other.counts.enumerated() { counts[index] &+= value }
        count += other.count
    }

    func value(atQuantile quantile: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let rank = max(1, UInt64((quantile * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for (index, bucketCount) in counts.enumerated() where bucketCount > 0 {
            seen += UInt64(bucketCount)
            if seen >= rank { return Self.upperEdge(of: index) }
        }
        return Self.upperEdge(of: counts.count - 1)
    }

    private static func index(of value: UInt64) -> Int {
        guard value >= UInt64(subBuckets) else { return Int(value) }
        let magnitude = 63 - value.leadingZeroBitCount - subBucketBits
        let sub = Int(value >> UInt64(magnitude)) - subBuckets
        return (magnitude + 1) * subBuckets + sub
    }

    private static func upperEdge(of index: Int) -> UInt64 {
        let magnitude = index / subBuckets - 1
        guard magnitude >= 0 else { return UInt64(index) }
        let sub = UInt64(index % subBuckets + subBuckets)
        return ((sub + 1) << UInt64(magnitude)) - 1
    }
}
