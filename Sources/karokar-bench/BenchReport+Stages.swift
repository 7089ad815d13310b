import KaroKarProto
import KaroKarRPC
import KaroKarToolSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A point of the report's "over time" charts: seconds from the start of measuring.
struct SeriesPoint {
    let seconds: Double
    let rate: Double
    let failures: Double
    let p50Micros: Double
    let p99Micros: Double
}

extension BenchReport {
    /// The time series, stages laid end to end.
    var seriesPoints: [SeriesPoint] {
        if stages.isEmpty { return result.stats.series.map { Self.points($0, offset: 0) } ?? [] }
        var offset = 0.0, points: [SeriesPoint] = []
        for stage in stages {
            if let series = stage.result.stats.series { points += Self.points(series, offset: offset) }
            offset += max(stage.result.seconds, stage.stage.duration.inSeconds)
        }
        return points
    }

    static func points(_ series: TimeSeries, offset: Double) -> [SeriesPoint] {
        let width = Double(series.width) / 1e9
        return series.windows.enumerated().map { index, window in
            SeriesPoint(
                seconds: offset + Double(index + 1) * width, rate: Double(window.calls) / width, failures: Double(window.failures) / width,
                p50Micros: Double(window.histogram.value(atQuantile: 0.5)) / 1000, p99Micros: Double(window.histogram.value(atQuantile: 0.99)) / 1000
            )
        }
    }

    static func seriesJSON(_ points: [SeriesPoint]) -> JSONValue {
        .array(points.map { point in
            .object([
                JSONMember("seconds", .number(number(point.seconds, 3))), JSONMember("rate", .number(number(point.rate, 1))),
                JSONMember("failuresPerSecond", .number(number(point.failures, 1))),
                JSONMember("p50Micros", .number(number(point.p50Micros, 1))), JSONMember("p99Micros", .number(number(point.p99Micros, 1))),
            ])
        })
    }

    static func stageJSON(_ number: Int, _ stage: LoadStage, _ stats: LoadStats, seconds: Double) -> JSONValue {
        func value(_ value: Double, _ decimals: Int = 1) -> JSONValue { .number(Self.number(value, decimals)) }
        let percentiles = quantiles.map { JSONMember($0.0, value(Double(stats.histogram.value(atQuantile: $0.1)) / 1000, 3)) }
            + [JSONMember("max", value(Double(stats.histogram.maximum) / 1000, 3))]
        let statuses = stats.statuses { StatusText.name(of: RPCCode(rawValue: $0)) }
        return .object([
            JSONMember("stage", .number(String(number))),
            JSONMember("offeredRate", stage.rate.map { value($0) } ?? .null),
            JSONMember("concurrency", .number(String(stage.concurrency))),
            JSONMember("plannedSeconds", value(stage.duration.inSeconds, 3)),
            JSONMember("seconds", value(seconds, 6)),
            JSONMember("requests", .number(String(stats.requests))),
            JSONMember("rate", value(seconds > 0 ? Double(stats.requests) / seconds : 0)),
            JSONMember("failures", .number(String(stats.failures))),
            JSONMember("latencyMicros", .object(percentiles)),
            JSONMember("statuses", .object(statuses.map { JSONMember($0.0, .number(String($0.1))) })),
        ])
    }

    static func kneeJSON(_ knee: KneeVerdict) -> JSONValue {
        .object([
            JSONMember("p99BoundMicros", .number(number(knee.bound.inSeconds * 1e6, 3))),
            JSONMember("kneeRate", knee.knee.map { .number(number($0, 1)) } ?? .null),
            JSONMember("brokenAtRate", knee.brokenAt.map { .number(number($0, 1)) } ?? .null),
            JSONMember("reason", knee.reason.map { .string($0) } ?? .null),
        ])
    }

    static func kneeText(_ knee: KneeVerdict) -> String {
        let bound = DurationText.format(knee.bound)
        let found = knee.knee.map { "\(number($0, 0)) calls/s (p99 under \(bound), no failures)" } ?? "none: the first stage already broke the bound"
        let stop = knee.brokenAt.map { "; stopped at \(number($0, 0)) calls/s: " + (knee.reason ?? "") } ?? "; every stage met the bound (raise --load-end)"
        return "knee:          " + found + stop
    }

    /// One line per stage: offered and achieved rate, percentiles, statuses.
    static func stageTable(_ rows: [(LoadStage, LoadStats, Double)]) -> [String] {
        guard !rows.isEmpty else { return [] }
        var lines = ["", "stage  offered/s  in flight  achieved/s    calls     p50 µs     p99 µs   p99.9 µs  statuses"]
        for (index, (stage, stats, seconds)) in rows.enumerated() {
            let statuses = stats.statuses { StatusText.name(of: RPCCode(rawValue: $0)) }.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
            let cells = [
                pad(String(index + 1), 5), pad(stage.rate.map { number($0, 0) } ?? "-", 10), pad(String(stage.concurrency), 10),
                pad(number(seconds > 0 ? Double(stats.requests) / seconds : 0, 0), 11), pad(String(stats.requests), 8),
            ] + [0.5, 0.99, 0.999].map { pad(number(Double(stats.histogram.value(atQuantile: $0)) / 1000, 1), 10) }
            lines.append(cells.joined(separator: " ") + "  " + statuses)
        }
        return lines
    }

    var stageLines: [String] {
        Self.stageTable(stages.map { ($0.stage, $0.result.stats, $0.result.seconds) }) + (knee.map { [Self.kneeText($0)] } ?? [])
    }

    static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    var settings: JSONValue {
        .object([
            JSONMember("call", .string(plan.method.path)), JSONMember("address", .string(plan.address.description)),
            JSONMember("mode", .string(mode)),
            JSONMember("schedule", .string(stages.isEmpty ? "constant" : "\(stages.count) stages")),
            JSONMember("timeout", .string(plan.timeout.map(DurationText.format) ?? "none")),
            JSONMember("warmup", .string(DurationText.format(plan.warmup))),
            JSONMember("requestTemplates", .number(String(plan.requests.templates.count))),
            JSONMember("requestOrder", .string(plan.requests.random ? "random" : "round-robin")),
            JSONMember("seed", .number(String(plan.seed))),
        ])
    }
}

/// The machine the load generator ran on, for the report.
enum Machine {
    static var json: JSONValue {
        var name = utsname()
        uname(&name)
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        let memory = Double(sysconf(Int32(_SC_PHYS_PAGES))) * Double(sysconf(Int32(_SC_PAGESIZE)))
        return .object([
            JSONMember("host", .string(text(name.nodename))),
            JSONMember("system", .string(text(name.sysname) + " " + text(name.release) + " " + text(name.machine))),
            JSONMember("cpus", .number(String(sysconf(Int32(_SC_NPROCESSORS_ONLN))))),
            JSONMember("memoryGiB", .number(BenchReport.number(memory / 1_073_741_824, 1))),
            JSONMember("loadAverage", .string(loadAverage)),
        ])
    }

    private static var loadAverage: String {
        var loads = [Double](repeating: 0, count: 3)
        guard getloadavg(&loads, 3) == 3 else { return "n/a" }
        return loads.map { BenchReport.number($0, 2) }.joined(separator: " ")
    }
}
