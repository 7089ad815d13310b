import KaroKarProto

/// `--format html`: one self-contained page (no script, font or style is fetched) drawn from the
/// run's JSON report, which the page also embeds (`<script type="application/json"
/// id="karokar-bench-data">`) for tools to read back. The charts are inline SVG written here; the
/// page is well-formed XML, so the SVG parts can be checked with any XML parser.
///
/// Charts, where the report has the data: latency histogram, throughput and latency percentiles
/// over time, per-stage offered and achieved rate and p99 (schedules, knee search), per-step calls
/// and latencies (scenarios), status counts; tables of percentiles, stages, settings and machine.
enum HTMLReport {
    static func page(title: String, data: JSONValue) -> String {
        var body: [String] = ["<h1>\(escape(title))</h1>"]
        if let summary = summary(data) { body.append(summary) }
        if let knee = data["knee"], knee != .null { body.append(kneeSection(knee)) }
        if let latency = data["latencyMicros"]?.objectMembers, !latency.isEmpty {
            body.append(section("Latency percentiles (µs)", table(["percentile", "µs"], latency.map { [$0.key, text($0.value)] })))
        }
        if let histogram = data["histogram"]?.jsonArray, !histogram.isEmpty {
            let labels = histogram.map { "≤ " + text($0["upToMicros"]) }
            let counts = histogram.map { value($0["count"]) }
            body.append(section("Latency histogram", SVGChart.bars(id: "histogram", labels: labels, series: [("calls", counts)], unit: "calls")))
        }
        let series = data["series"]?.jsonArray ?? data["load"]?["series"]?.jsonArray ?? []
        if !series.isEmpty {
            let seconds = series.map { value($0["seconds"]) }
            body.append(section("Throughput over time", SVGChart.lines(
                id: "throughput", x: seconds, series: [("calls/s", series.map { value($0["rate"]) }), ("failures/s", series.map { value($0["failuresPerSecond"]) })],
                xUnit: "s", unit: "calls/s"
            )))
            body.append(section("Latency over time", SVGChart.lines(
                id: "latency-over-time", x: seconds, series: [("p50", series.map { value($0["p50Micros"]) }), ("p99", series.map { value($0["p99Micros"]) })],
                xUnit: "s", unit: "µs"
            )))
        }
        let stages = data["stages"]?.jsonArray ?? data["load"]?["stages"]?.jsonArray ?? []
        if !stages.isEmpty { body.append(stageSection(stages)) }
        let steps = data["load"]?["steps"]?.jsonArray ?? []
        if !steps.isEmpty { body.append(stepSection(steps)) }
        let statuses = data["statuses"]?.objectMembers ?? statusTotals(steps)
        if !statuses.isEmpty {
            body.append(section("Statuses", SVGChart.bars(id: "statuses", labels: statuses.map(\.key), series: [("calls", statuses.map { value($0.value) })], unit: "calls")
                + table(["status", "calls"], statuses.map { [$0.key, text($0.value)] })))
        }
        if let settings = data["settings"]?.objectMembers { body.append(section("Settings", table(["setting", "value"], settings.map { [$0.key, text($0.value)] }))) }
        if let machine = data["machine"]?.objectMembers { body.append(section("Machine", table(["", ""], machine.map { [$0.key, text($0.value)] }))) }
        return """
            <!DOCTYPE html>
            <html xmlns="http://www.w3.org/1999/xhtml" lang="en">
            <head>
            <meta charset="utf-8"/>
            <title>\(escape(title))</title>
            <style>
            body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 980px; color: #222; }
            h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; border-bottom: 1px solid #ccc; }
            table { border-collapse: collapse; margin: .5em 0; } td, th { padding: 2px 10px; text-align: right; border-bottom: 1px solid #eee; }
            td:first-child, th:first-child { text-align: left; } svg { display: block; margin: .5em 0; }
            .axis { stroke: #888; } .grid { stroke: #eee; } text { font: 11px sans-serif; fill: #444; }
            .s0 { fill: #3b6fb6; stroke: #3b6fb6; } .s1 { fill: #d9822b; stroke: #d9822b; } .s2 { fill: #2e9e5b; stroke: #2e9e5b; }
            polyline { fill: none; stroke-width: 2; } .knee { font-weight: bold; }
            </style>
            </head>
            <body>
            \(body.joined(separator: "\n"))
            <script type="application/json" id="karokar-bench-data">\(embedded(data))</script>
            </body>
            </html>
            """
    }

    // MARK: - Sections

    private static func summary(_ data: JSONValue) -> String? {
        var rows: [[String]] = []
        for key in ["call", "scenario", "address", "mode", "targetRate", "concurrency", "connections", "requests", "seconds", "rate"] {
            if let value = data[key], value != .null { rows.append([key, text(value)]) }
        }
        if let load = data["load"] {
            for key in ["requests", "seconds", "unexpected"] { if let value = load[key] { rows.append(["load " + key, text(value)]) } }
        }
        return rows.isEmpty ? nil : section("Run", table(["", ""], rows))
    }

    private static func kneeSection(_ knee: JSONValue) -> String {
        let rate = text(knee["kneeRate"])
        let verdict = rate == "-" ? "no knee: the first stage already broke the bound" : "knee at \(rate) calls/s"
        let broken = text(knee["brokenAtRate"])
        let stop = broken == "-" ? "every stage met the bound" : "stopped at \(broken) calls/s: " + text(knee["reason"])
        let micros = value(knee["p99BoundMicros"])
        let bound = micros >= 1000 ? BenchReport.number(micros / 1000, micros.truncatingRemainder(dividingBy: 1000) == 0 ? 0 : 3) + " ms"
            : BenchReport.number(micros, 1) + " µs"
        return section("Knee (p99 under \(bound), no failures)",
                       "<p class=\"knee\">\(escape(verdict))</p><p>\(escape(stop))</p>")
    }

    private static func stageSection(_ stages: [JSONValue]) -> String {
        let labels = stages.map { "#" + text($0["stage"]) }
        let open = stages.contains { ($0["offeredRate"] ?? .null) != .null }
        var rates: [(String, [Double])] = open ? [("offered/s", stages.map { value($0["offeredRate"]) })] : []
        rates.append(("achieved/s", stages.map { value($0["rate"]) }))
        var charts = SVGChart.bars(id: "stage-rates", labels: labels, series: rates, unit: "calls/s")
        charts += SVGChart.bars(
            id: "stage-latency", labels: labels,
            series: [("p50", stages.map { value($0["latencyMicros"]?["p50"]) }), ("p99", stages.map { value($0["latencyMicros"]?["p99"]) }),
                     ("p99.9", stages.map { value($0["latencyMicros"]?["p99.9"]) })],
            unit: "µs"
        )
        let rows = stages.map { stage in
            [text(stage["stage"]), text(stage["offeredRate"]), text(stage["concurrency"]), text(stage["rate"]), text(stage["requests"]),
             text(stage["latencyMicros"]?["p50"]), text(stage["latencyMicros"]?["p99"]), text(stage["latencyMicros"]?["p99.9"]),
             (stage["statuses"]?.objectMembers ?? []).map { "\($0.key) \(text($0.value))" }.joined(separator: ", ")]
        }
        return section("Stages", charts + table(["stage", "offered/s", "in flight", "achieved/s", "calls", "p50 µs", "p99 µs", "p99.9 µs", "statuses"], rows))
    }

    private static func stepSection(_ steps: [JSONValue]) -> String {
        let labels = steps.map { text($0["step"]) }
        var charts = SVGChart.bars(id: "step-calls", labels: labels, series: [("calls", steps.map { value($0["requests"]) })], unit: "calls")
        charts += SVGChart.bars(
            id: "step-latency", labels: labels,
            series: [("p50", steps.map { value($0["latencyMicros"]?["p50"]) }), ("p99", steps.map { value($0["latencyMicros"]?["p99"]) })], unit: "µs"
        )
        let rows = steps.map { step in
            [text(step["step"]), text(step["requests"]), text(step["latencyMicros"]?["p50"]), text(step["latencyMicros"]?["p99"]),
             text(step["latencyMicros"]?["p99.9"]), (step["statuses"]?.objectMembers ?? []).map { "\($0.key) \(text($0.value))" }.joined(separator: ", "),
             text(step["unexpected"])]
        }
        return section("Steps", charts + table(["step", "calls", "p50 µs", "p99 µs", "p99.9 µs", "statuses", "unexpected"], rows))
    }

    private static func statusTotals(_ steps: [JSONValue]) -> [JSONMember] {
        var totals: [String: Double] = [:]
        for step in steps { for member in step["statuses"]?.objectMembers ?? [] { totals[member.key, default: 0] += value(member.value) } }
        return totals.sorted { $0.key < $1.key }.map { JSONMember($0.key, .number(BenchReport.number($0.value, 0))) }
    }

    // MARK: - Pieces

    private static func section(_ title: String, _ content: String) -> String {
        "<h2>\(escape(title))</h2>\n\(content)"
    }

    private static func table(_ header: [String], _ rows: [[String]]) -> String {
        let head = "<tr>" + header.map { "<th>\(escape($0))</th>" }.joined() + "</tr>"
        let body = rows.map { "<tr>" + $0.map { "<td>\(escape($0))</td>" }.joined() + "</tr>" }.joined(separator: "\n")
        return "<table>\n\(head)\n\(body)\n</table>"
    }

    static func text(_ json: JSONValue?) -> String {
        switch json {
        case .string(let text)?: text
        case .number(let text)?: text
        case .bool(let flag)?: flag ? "true" : "false"
        case .null?, nil: "-"
        case .array?, .object?: json!.jsonText
        }
    }

    static func value(_ json: JSONValue?) -> Double {
        switch json {
        case .number(let text)?, .string(let text)?: Double(text) ?? 0
        default: 0
        }
    }

    /// Text for element content and attribute values.
    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            default: result.append(character)
            }
        }
        return result
    }

    /// The JSON, safe inside a `<script>` element and in XML: `<`, `>` and `&` occur only inside
    /// JSON strings, where their `\u` escapes mean the same.
    private static func embedded(_ data: JSONValue) -> String {
        var result = ""
        for character in data.jsonText {
            switch character {
            case "<": result += "\\u003c"
            case ">": result += "\\u003e"
            case "&": result += "\\u0026"
            default: result.append(character)
            }
        }
        return result
    }
}

/// Bar and line charts as inline SVG. Every bar and point carries its value (`data-value`) and
/// series (`data-series`), so what a chart shows can be checked against the embedded JSON.
enum SVGChart {
    static let width = 900.0, height = 260.0
    static let left = 70.0, right = 20.0, top = 20.0, bottom = 50.0

    static func bars(id: String, labels: [String], series: [(String, [Double])], unit: String) -> String {
        let top = niceCeiling(series.flatMap(\.1).max() ?? 0)
        let plotWidth = width - left - right, plotHeight = height - Self.top - bottom
        let slot = plotWidth / Double(max(labels.count, 1))
        let barWidth = max(1, slot * 0.8 / Double(max(series.count, 1)))
        var parts = frame(id: id, top: top, unit: unit)
        for (seriesIndex, (name, values)) in series.enumerated() {
            for (index, value) in values.enumerated() {
                let barHeight = top > 0 ? value / top * plotHeight : 0
                let x = left + Double(index) * slot + slot * 0.1 + Double(seriesIndex) * barWidth
                parts.append("<rect class=\"bar s\(seriesIndex % 3)\" data-series=\"\(HTMLReport.escape(name))\" data-value=\"\(format(value))\" "
                    + "x=\"\(format(x))\" y=\"\(format(Self.top + plotHeight - barHeight))\" width=\"\(format(barWidth))\" height=\"\(format(barHeight))\">"
                    + "<title>\(HTMLReport.escape(labels[index])): \(HTMLReport.escape(name)) \(format(value))</title></rect>")
            }
        }
        let every = max(1, labels.count / 20)
        for (index, label) in labels.enumerated() where index % every == 0 {
            let x = left + (Double(index) + 0.5) * slot
            parts.append("<text x=\"\(format(x))\" y=\"\(format(height - bottom + 14))\" text-anchor=\"middle\">\(HTMLReport.escape(label))</text>")
        }
        parts += legend(series.map(\.0))
        parts.append("</svg>")
        return parts.joined(separator: "\n")
    }

    static func lines(id: String, x: [Double], series: [(String, [Double])], xUnit: String, unit: String) -> String {
        let top = niceCeiling(series.flatMap(\.1).max() ?? 0)
        let xMax = max(x.max() ?? 1, 1e-9)
        let plotWidth = width - left - right, plotHeight = height - Self.top - bottom
        func position(_ xValue: Double, _ yValue: Double) -> (Double, Double) {
            (left + xValue / xMax * plotWidth, Self.top + plotHeight - (top > 0 ? yValue / top * plotHeight : 0))
        }
        var parts = frame(id: id, top: top, unit: unit)
        for (seriesIndex, (name, values)) in series.enumerated() {
            let points = zip(x, values).map { position($0.0, $0.1) }
            parts.append("<polyline class=\"s\(seriesIndex % 3)\" data-series=\"\(HTMLReport.escape(name))\" points=\""
                + points.map { "\(format($0.0)),\(format($0.1))" }.joined(separator: " ") + "\"/>")
            for ((xValue, value), point) in zip(zip(x, values), points) {
                parts.append("<circle class=\"point s\(seriesIndex % 3)\" data-series=\"\(HTMLReport.escape(name))\" data-x=\"\(format(xValue))\" "
                    + "data-value=\"\(format(value))\" cx=\"\(format(point.0))\" cy=\"\(format(point.1))\" r=\"2\"/>")
            }
        }
        for step in 0...4 {
            let xValue = xMax * Double(step) / 4
            parts.append("<text x=\"\(format(left + Double(step) / 4 * plotWidth))\" y=\"\(format(height - bottom + 14))\" text-anchor=\"middle\">\(format(xValue)) \(xUnit)</text>")
        }
        parts += legend(series.map(\.0))
        parts.append("</svg>")
        return parts.joined(separator: "\n")
    }

    private static func frame(id: String, top: Double, unit: String) -> [String] {
        let plotHeight = height - Self.top - bottom
        var parts = ["<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"\(id)\" class=\"chart\" width=\"\(format(width))\" height=\"\(format(height))\" viewBox=\"0 0 \(format(width)) \(format(height))\">"]
        for step in 0...4 {
            let y = Self.top + plotHeight * (1 - Double(step) / 4)
            parts.append("<line class=\"grid\" x1=\"\(format(left))\" y1=\"\(format(y))\" x2=\"\(format(width - right))\" y2=\"\(format(y))\"/>")
            parts.append("<text x=\"\(format(left - 6))\" y=\"\(format(y + 4))\" text-anchor=\"end\">\(format(top * Double(step) / 4))</text>")
        }
        parts.append("<line class=\"axis\" x1=\"\(format(left))\" y1=\"\(format(Self.top + plotHeight))\" x2=\"\(format(width - right))\" y2=\"\(format(Self.top + plotHeight))\"/>")
        parts.append("<text x=\"10\" y=\"12\">\(HTMLReport.escape(unit))</text>")
        return parts
    }

    private static func legend(_ names: [String]) -> [String] {
        names.enumerated().map { index, name in
            let x = left + Double(index) * 120
            return "<rect class=\"s\(index % 3)\" x=\"\(format(x))\" y=\"\(format(height - 18))\" width=\"10\" height=\"10\"/>"
                + "<text x=\"\(format(x + 14))\" y=\"\(format(height - 9))\">\(HTMLReport.escape(name))</text>"
        }
    }

    /// 1, 2 or 5 times a power of ten, at or above `value`.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0, value.isFinite else { return 1 }
        var magnitude = 1.0
        while magnitude * 10 <= value { magnitude *= 10 }
        while magnitude > value { magnitude /= 10 }
        for factor in [1.0, 2, 5, 10] where factor * magnitude >= value { return factor * magnitude }
        return 10 * magnitude
    }

    static func format(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : BenchReport.number(value, 2)
    }
}

extension JSONValue {
    /// The elements of an array, or nil.
    var jsonArray: [JSONValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }
}
