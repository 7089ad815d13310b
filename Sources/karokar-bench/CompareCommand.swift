import ArgumentParser
import KaroKarProto
import KaroKarToolSupport

/// `karokar-bench compare BASE.json NEW.json`: every figure of two JSON reports side by side with
/// its change; exits 2 when a checked figure got worse by more than the threshold.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare two JSON reports (call or scenario) figure by figure; exit 2 on a regression.",
        discussion: """
            Figures are named by their path in the report: rate, latencyMicros.p99, stages.3.latencyMicros.p99, \
            load.steps.echo.latencyMicros.p99, knee.kneeRate, cpu.serverMicrosPerCall ... (* matches one part). \
            Rates and request counts are worse when lower, everything else (latencies, failures, CPU) when higher. \
            The checked figures are --figure's (repeatable); by default rate, latencyMicros.p50, latencyMicros.p99, \
            knee.kneeRate, load.requests and load.steps.*.latencyMicros.p99, where the reports have them. \
            Exit status: 0 no checked figure regressed, 2 one did, 1 a report could not be read.
            """
    )

    static let defaultFigures = ["rate", "latencyMicros.p50", "latencyMicros.p99", "knee.kneeRate", "load.requests", "load.steps.*.latencyMicros.p99"]
    /// Settings rather than outcomes: shown, never judged unless named with --figure.
    static let neutral: Set<String> = [
        "concurrency", "connections", "targetRate", "idleConnections", "stage", "offeredRate", "plannedSeconds", "seconds",
        "p99BoundMicros", "brokenAtRate", "seed", "requestTemplates", "cpus", "memoryGiB",
    ]
    static let higherIsBetter: Set<String> = ["rate", "requests", "kneeRate", "OK"]

    @Argument(help: "The baseline report (karokar-bench --format json).") var base: String
    @Argument(help: "The report to judge.") var new: String
    @Option(name: .customLong("figure"), help: "A figure to check (repeatable; * matches one part of its path).") var figures: [String] = []
    @Option(help: "How much worse a checked figure may get, e.g. 10% (relative).") var threshold = "10%"
    @Flag(help: "List only the checked figures.") var checkedOnly = false

    func run() throws {
        do {
            let limit = try Self.percent(threshold)
            let baseFigures = try Self.figures(of: base), newFigures = try Self.figures(of: new)
            let patterns = figures.isEmpty ? Self.defaultFigures : figures
            let (lines, regressions) = Self.compare(baseFigures, newFigures, patterns: patterns, threshold: limit, checkedOnly: checkedOnly)
            print(lines.joined(separator: "\n"))
            if !regressions.isEmpty {
                StandardError.line("regressed beyond \(threshold): " + regressions.joined(separator: ", "))
                throw ExitCode(2)
            }
        } catch let error as ToolError {
            StandardError.line("error: \(error.message)")
            throw ExitCode(ExitStatus.localFailure)
        }
    }

    static func percent(_ text: String) throws(ToolError) -> Double {
        let number = text.hasSuffix("%") ? String(text.dropLast()) : text
        guard let value = Double(number), value.isFinite, value >= 0 else { throw ToolError("--threshold must be a percentage such as 10%") }
        return value / 100
    }

    /// The report's numeric figures, in document order, by path.
    static func figures(of path: String) throws(ToolError) -> [(String, Double)] {
        let json = try MessageCodec.parse(TextInput.file(path))
        guard case .object = json else { throw ToolError("\(path) is not a karokar-bench JSON report") }
        var result: [(String, Double)] = []
        flatten(json, prefix: "", into: &result)
        guard !result.isEmpty else { throw ToolError("\(path) holds no figures") }
        return result
    }

    private static let skipped: Set<String> = ["histogram", "series", "settings", "machine", "setup"]

    private static func flatten(_ json: JSONValue, prefix: String, into result: inout [(String, Double)]) {
        switch json {
        case .number(let text):
            if let value = Double(text) { result.append((prefix, value)) }
        case .object(let members):
            for member in members where !(prefix.isEmpty && skipped.contains(member.key)) {
                flatten(member.value, prefix: prefix.isEmpty ? member.key : prefix + "." + member.key, into: &result)
            }
        case .array(let elements):
            for (index, element) in elements.enumerated() {
                let key = ["step", "stage", "phase"].lazy.compactMap { element[$0].map { HTMLReport.text($0) } }.first ?? String(index)
                flatten(element, prefix: prefix + "." + key, into: &result)
            }
        default:
            break
        }
    }

    static func matches(_ path: String, _ pattern: String) -> Bool {
        let parts = path.split(separator: "."), wanted = pattern.split(separator: ".")
        guard parts.count == wanted.count else { return path == pattern }
        return zip(parts, wanted).allSatisfy { $1 == "*" || $0 == $1 }
    }

    /// The table, and the checked figures that got worse by more than `threshold`.
    static func compare(
        _ base: [(String, Double)], _ new: [(String, Double)], patterns: [String], threshold: Double, checkedOnly: Bool
    ) -> (lines: [String], regressions: [String]) {
        let newValues = Dictionary(new, uniquingKeysWith: { first, _ in first })
        let baseValues = Dictionary(base, uniquingKeysWith: { first, _ in first })
        var order = base.map(\.0)
        order += new.map(\.0).filter { baseValues[$0] == nil }
        var lines = [pad("figure", 48, left: true) + pad("base", 14) + pad("new", 14) + pad("change", 10) + "  verdict"]
        var regressions: [String] = []
        for path in order {
            let checked = patterns.contains { matches(path, $0) }
            if checkedOnly && !checked { continue }
            let old = baseValues[path], now = newValues[path]
            var change = "", verdict = checked ? "checked" : ""
            if let old, let now {
                let relative = old == 0 ? (now == 0 ? 0 : Double.infinity) : (now - old) / abs(old)
                change = relative.isInfinite ? "new" : (relative >= 0 ? "+" : "") + BenchReport.number(relative * 100, 1) + "%"
                let name = String(path.split(separator: ".").last ?? "")
                if !neutral.contains(name) || checked {
                    let worse = higherIsBetter.contains(name) ? -relative : relative
                    if checked && worse > threshold {
                        verdict = "REGRESSION"
                        regressions.append(path)
                    } else if worse > threshold {
                        verdict = "worse"
                    } else if worse < -threshold {
                        verdict = checked ? "checked, better" : "better"
                    }
                }
            } else if checked {
                verdict = "checked, missing in one report"
            }
            lines.append(pad(path, 48, left: true) + pad(old.map { BenchReport.number($0, 3) } ?? "-", 14)
                + pad(now.map { BenchReport.number($0, 3) } ?? "-", 14) + pad(change, 10) + "  " + verdict)
        }
        return (lines, regressions)
    }

    private static func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(1, width - text.count))
        return left ? text + padding : padding + text
    }
}

/// `karokar-bench html REPORT.json`: the HTML page of a stored JSON report (the same page
/// `--format html` writes), so one run gives both.
struct HTMLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "html", abstract: "Write the HTML page of a JSON report (call or scenario).")

    @Argument(help: "The report (karokar-bench --format json).") var report: String

    func run() throws {
        do {
            let json = try MessageCodec.parse(TextInput.file(report))
            guard case .object = json else { throw ToolError("\(report) is not a karokar-bench JSON report") }
            let title = json["call"] != nil ? "karokar-bench: " + HTMLReport.text(json["call"])
                : json["scenario"] != nil ? "karokar-bench scenario " + HTMLReport.text(json["scenario"]) : "karokar-bench"
            print(HTMLReport.page(title: title, data: json))
        } catch let error as ToolError {
            StandardError.line("error: \(error.message)")
            throw ExitCode(ExitStatus.localFailure)
        }
    }
}
