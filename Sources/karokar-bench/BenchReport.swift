import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import KaroKarToolSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum ReportFormat: String {
    case text, json, csv, html
}

/// The final report: as text for people, JSON or CSV for machines. Latencies in microseconds.
struct BenchReport {
    let plan: BenchPlan
    let result: BenchResult
    /// A staged run's stages (schedules, knee search); empty for a constant load.
    var stages: [StageResult] = []
    var knee: KneeVerdict?

    static let quantiles: [(String, Double)] = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)]

    var histogram: LatencyHistogram { result.stats.histogram }

    /// min, mean, p50 ... p99.9, max.
    var latencies: [(String, Double)] { Self.latencies(histogram) }

    /// min, mean, p50 ... p99.9, max of one histogram (microseconds); none when it is empty.
    static func latencies(_ histogram: LatencyHistogram) -> [(String, Double)] {
        guard histogram.count > 0 else { return [] }
        let percentiles = quantiles.map { ($0.0, Double(histogram.value(atQuantile: $0.1)) / 1000) }
        return [("min", Double(histogram.minimum) / 1000), ("mean", histogram.mean / 1000)] + percentiles
            + [("max", Double(histogram.maximum) / 1000)]
    }

    var statuses: [(String, Int)] {
        result.stats.statuses { StatusText.name(of: RPCCode(rawValue: $0)) }
    }

    var domainCodes: [(String, Int)] {
        result.stats.domainCodes.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    var mode: String {
        if let first = stages.first?.stage, let last = stages.last?.stage {
            if let from = first.rate, let to = last.rate {
                return "open loop, \(stages.count) stages from \(Self.number(from, 0)) to \(Self.number(to, 0)) calls/s"
            }
            return "closed loop, \(stages.count) stages from \(first.concurrency) to \(last.concurrency) in flight"
        }
        return plan.rate.map { "open loop at \(Self.number($0, 0)) calls/s" } ?? "closed loop"
    }

    /// Open loop: a constant rate or a load schedule.
    var isOpenLoop: Bool { plan.rate != nil || stages.first?.stage.rate != nil }

    func microsecondsPerCall(_ seconds: Double?) -> Double? {
        guard let seconds, result.stats.requests > 0 else { return nil }
        return seconds / Double(result.stats.requests) * 1e6
    }

    /// Log-spaced buckets from the fastest to the slowest call: (upper edge in µs, count).
    var chart: [(Double, UInt64)] {
        guard histogram.count > 0 else { return [] }
        let low = max(Double(histogram.minimum), 1), high = max(Double(histogram.maximum), low + 1)
        let steps = 10
        let edges = (1...steps).map { step in UInt64((low * pow(high / low, Double(step) / Double(steps))).rounded(.up)) }
        return zip(edges, histogram.counts(upTo: edges)).map { (Double($0.0) / 1000, $0.1) }
    }

    func render(_ format: ReportFormat) -> String {
        switch format {
        case .text: text
        case .json: json.prettyJSONText
        case .csv: csv
        case .html: HTMLReport.page(title: "karokar-bench: \(plan.method.path)", data: json)
        }
    }

    static func number(_ value: Double, _ decimals: Int) -> String {
        let scale = pow(10, Double(decimals))
        let rounded = (value * scale).rounded() / scale
        guard decimals > 0 else { return String(Int64(rounded)) }
        let whole = Int64(rounded.magnitude)
        let fraction = Int64(((rounded.magnitude - Double(whole)) * scale).rounded())
        let digits = String(fraction)
        return (rounded < 0 ? "-" : "") + "\(whole)." + String(repeating: "0", count: max(0, decimals - digits.count)) + digits
    }
}

