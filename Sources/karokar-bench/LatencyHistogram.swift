/// Latencies in log-linear buckets: 128 sub-buckets per power of two, so any recorded value is
/// reported within 1% (the HDR histogram scheme, fixed-size and allocation-free per record).
struct LatencyHistogram: Sendable, Equatable {
    private static let subBucketBits = 7
    private static let subBuckets = 1 << subBucketBits
    private var counts = [UInt64](repeating: 0, count: 64 * (1 << 7))
    private(set) var count: UInt64 = 0
    private(set) var maximum: UInt64 = 0
    private(set) var minimum: UInt64 = .max
    private var sum: Double = 0

    mutating func record(nanoseconds value: UInt64) {
        counts[Self.index(of: value)] &+= 1
        count &+= 1
        sum += Double(value)
        if value > maximum { maximum = value }
        if value < minimum { minimum = value }
    }

    mutating func merge(_ other: LatencyHistogram) {
        for index in counts.indices { counts[index] += other.counts[index] }
        count += other.count
        sum += other.sum
        maximum = max(maximum, other.maximum)
        minimum = min(minimum, other.minimum)
    }

    var mean: Double { count == 0 ? 0 : sum / Double(count) }

    /// The value at `quantile` (0...1), as the upper edge of its bucket, capped at the maximum.
    func value(atQuantile quantile: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let rank = max(1, UInt64((quantile * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for (index, bucketCount) in counts.enumerated() where bucketCount > 0 {
            seen += bucketCount
            if seen >= rank { return min(Self.upperEdge(of: index), maximum) }
        }
        return maximum
    }

    /// Counts of values up to each of `edges` (ascending) and above the previous edge; a value
    /// is placed by its bucket's upper edge, so the split is exact to the histogram's 1%.
    func counts(upTo edges: [UInt64]) -> [UInt64] {
        var result = [UInt64](repeating: 0, count: edges.count)
        var edge = 0
        for (index, bucketCount) in counts.enumerated() where bucketCount > 0 {
            let value = min(Self.upperEdge(of: index), maximum)
            while edge < edges.count - 1 && value > edges[edge] { edge += 1 }
            result[edge] += bucketCount
        }
        return result
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
