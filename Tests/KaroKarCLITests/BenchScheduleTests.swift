import Foundation
import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

extension ToolProcesses {
    /// Schedules, the knee search, the HTML report, `compare` and `--data-file`, against live
    /// servers. Timing assertions are bounds the server cannot beat (a handler that sleeps caps
    /// the throughput), or wide enough for a loaded machine and still broken by a wrong schedule.
    @Suite("karokar-bench schedules, knee, reports")
    struct BenchScheduleTests {
        private func bench(_ arguments: [String], port: Int, format: String = "json") async throws -> ToolProcess.Outcome {
            try await ToolProcess.run("karokar-bench", ["--address", "127.0.0.1:\(port)", "--format", format, "--no-progress"] + arguments)
        }

        private func report(_ arguments: [String], port: Int) async throws -> JSONValue {
            let outcome = try await bench(arguments, port: port)
            #expect(outcome.status == 0, "\(outcome.stderr)")
            return try JSONParser.parse(outcome.stdout)
        }

        private static func number(_ json: JSONValue?) -> Double? {
            guard case .number(let text)? = json else { return nil }
            return Double(text)
        }

        private static func counts(_ json: JSONValue?) -> [String: Int] {
            var result: [String: Int] = [:]
            for member in json?.objectMembers ?? [] {
                if case .number(let text) = member.value { result[member.key] = Int(text) }
            }
            return result
        }

        /// A payload that makes `SlowEchoService` sleep that long per call.
        private static func sleep(_ milliseconds: Int) -> String {
            let payload = Data("sleep:\(milliseconds)".utf8).base64EncodedString()
            return #"{"payload": "\#(payload)"}"#
        }

        @Test("a step load schedule runs each stage at its rate: every intended call, achieved rates near the offered ones")
        func stepLoadSchedule() async throws {
            let server = try await TestServer.start()
            let json = try await report([
                "--load-schedule", "step", "--load-start", "200", "--load-step", "200", "--load-end", "600", "--load-step-duration", "1s",
                "-c", "64", "--connections", "2", "--warmup", "200ms",
            ], port: server.port)
            let stages = json["stages"]?.arrayElements ?? []
            #expect(stages.map { Self.number($0["offeredRate"]) } == [200, 400, 600])
            var total = 0
            for stage in stages {
                let offered = Self.number(stage["offeredRate"]) ?? 0
                let requests = Int(Self.number(stage["requests"]) ?? 0)
                total += requests
                // Open loop: the calls are intended at fixed times, so their number is exact (±1 per connection).
                #expect(abs(requests - Int(offered)) <= 2, "stage at \(offered)/s started \(requests) calls in 1 s")
                #expect(Self.counts(stage["statuses"]) == ["OK": requests])
                // 5% on a quiet machine; 20% leaves room for a loaded one, and a stage at another rate still fails.
                let achieved = Self.number(stage["rate"]) ?? 0
                #expect(abs(achieved - offered) / offered < 0.2, "offered \(offered)/s, achieved \(achieved)/s")
            }
            #expect(Int(Self.number(json["requests"]) ?? 0) == total, "the totals are the stages' sum")
            #expect(json["knee"] == .null)
            await server.stop()
        }

        @Test("a line load schedule goes up by its slope every second")
        func lineLoadSchedule() async throws {
            let server = try await TestServer.start()
            let json = try await report([
                "--load-schedule", "line", "--load-start", "300", "--load-step=-100", "--load-end", "100", "-c", "16", "--warmup", "0",
            ], port: server.port)
            let stages = json["stages"]?.arrayElements ?? []
            #expect(stages.map { Self.number($0["offeredRate"]) } == [300, 200, 100])
            #expect(stages.map { Self.number($0["plannedSeconds"]) } == [1, 1, 1])
            await server.stop()
        }

        @Test("CSV: a header, the whole run's row, then one row per stage with its own rate, calls and percentiles")
        func csvStageRows() async throws {
            let server = try await TestServer.start()
            let outcome = try await bench([
                "--load-schedule", "line", "--load-start", "300", "--load-step=-100", "--load-end", "100", "-c", "16", "--warmup", "0",
            ], port: server.port, format: "csv")
            #expect(outcome.status == 0, "\(outcome.stderr)")
            let lines = outcome.stdout.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            #expect(lines.count == 5, "header, whole run, three stages: \(outcome.stdout)")
            guard lines.count == 5 else { return }
            let header = lines[0]
            func cell(_ row: [String], _ name: String) -> String? {
                header.firstIndex(of: name).flatMap { $0 < row.count ? row[$0] : nil }
            }
            #expect(lines.allSatisfy { $0.count == header.count })
            #expect(lines.dropFirst().map { cell($0, "stage") } == ["all", "1", "2", "3"])
            #expect(lines.dropFirst(2).map { cell($0, "target_rate") } == ["300.0", "200.0", "100.0"])
            let stageCalls = lines.dropFirst(2).compactMap { cell($0, "requests").flatMap(Int.init) }
            #expect(stageCalls.count == 3 && stageCalls.reduce(0, +) == cell(lines[1], "requests").flatMap(Int.init), "the stages add up to the run")
            for (row, offered) in zip(lines.dropFirst(2), [300, 200, 100]) {
                #expect(abs((cell(row, "requests").flatMap(Int.init) ?? 0) - offered) <= 2)
                #expect(cell(row, "statuses") == "OK=\(cell(row, "requests") ?? "")")
                #expect(Double(cell(row, "p99_us") ?? "") ?? 0 > 0)
            }
            await server.stop()
        }

        @Test("a concurrency schedule changes the calls in flight: a 10 ms handler caps each stage at concurrency × 100/s")
        func concurrencySchedule() async throws {
            let service = SlowEchoService()
            let (server, address) = try await service.startServer(limits: ServerLimits())
            let json = try await report([
                "--data", Self.sleep(10), "--concurrency-schedule", "step", "--concurrency-start", "1", "--concurrency-step", "3",
                "--concurrency-end", "7", "--concurrency-step-duration", "600ms", "--warmup", "0",
            ], port: address.port!)
            let stages = json["stages"]?.arrayElements ?? []
            #expect(stages.map { Self.number($0["concurrency"]) } == [1, 4, 7])
            #expect(stages.allSatisfy { $0["offeredRate"] == .null }, "closed loop")
            let rates = stages.map { Self.number($0["rate"]) ?? 0 }
            for (rate, concurrency) in zip(rates, [1.0, 4, 7]) {
                #expect(rate > 0 && rate <= concurrency * 100 * 1.05, "\(concurrency) calls in flight of 10 ms each: \(rate)/s")
            }
            #expect(rates.count == 3 && rates[2] > 2.5 * rates[0], "more calls in flight, more throughput: \(rates)")
            await server.close()
        }

        @Test("the knee search stops at the first stage past the bound of a server that cannot go faster")
        func kneeStopsAtTheBound() async throws {
            // 8 calls in flight, 20 ms each: no more than 400 calls/s, whatever the machine.
            let service = SlowEchoService()
            let (server, address) = try await service.startServer(limits: ServerLimits())
            let json = try await report([
                "--data", Self.sleep(20), "-c", "8", "--warmup", "0", "--load-schedule", "step", "--load-start", "100", "--load-step", "100",
                "--load-end", "3000", "--load-step-duration", "1s", "--p99", "150ms",
            ], port: address.port!)
            let knee = json["knee"]
            let broken = Self.number(knee?["brokenAtRate"]) ?? 0
            #expect(broken >= 100 && broken <= 500, "past 400/s the queue must grow: broke at \(broken)")
            if let rate = Self.number(knee?["kneeRate"]) {
                #expect(rate == broken - 100, "the knee is the stage before the one that broke the bound")
            } else {
                #expect(broken == 100, "no knee only when the first stage broke the bound")
            }
            let stages = json["stages"]?.arrayElements ?? []
            #expect(stages.count == Int(broken / 100), "no stage after the one that broke the bound")
            for stage in stages.dropLast() {
                #expect((Self.number(stage["latencyMicros"]?["p99"]) ?? .infinity) < 150_000)
                #expect(Self.number(stage["failures"]) == 0)
            }
            let last = stages.last
            #expect((Self.number(last?["latencyMicros"]?["p99"]) ?? 0) >= 150_000 || (Self.number(last?["failures"]) ?? 0) > 0)
            #expect(service.startedCalls >= 100)
            await server.close()
        }

        @Test("scenario knee: open-loop stages of the mix; a bound met by all runs them all, an impossible one stops after the first")
        func scenarioKnee() async throws {
            let server = try await TestServer.start()
            func run(_ bound: String) async throws -> JSONValue {
                let outcome = try await ToolProcess.run("karokar-bench", [
                    "scenario", "builtin", "--address", "127.0.0.1:\(server.port)", "--size", "3", "-c", "8", "--format", "json",
                    "--load-schedule", "step", "--load-start", "40", "--load-step", "40", "--load-end", "120", "--load-step-duration", "500ms",
                    "--p99", bound,
                ])
                #expect(outcome.status == 0, "\(outcome.stderr)")
                return try JSONParser.parse(outcome.stdout)
            }
            let easy = try await run("5s")
            let stages = easy["load"]?["stages"]?.arrayElements ?? []
            #expect(stages.map { Self.number($0["offeredRate"]) } == [40, 80, 120])
            for stage in stages {
                let offered = Self.number(stage["offeredRate"]) ?? 0
                let requests = Self.number(stage["requests"]) ?? 0
                #expect(requests >= offered * 0.5 - 1 && requests <= offered * 0.5 + 1, "\(offered)/s for 500 ms started \(requests) steps")
            }
            #expect(Self.number(easy["knee"]?["kneeRate"]) == 120)
            #expect(easy["knee"]?["brokenAtRate"] == .null)
            let impossible = try await run("1ns")
            #expect(impossible["load"]?["stages"]?.arrayElements?.count == 1)
            #expect(impossible["knee"]?["kneeRate"] == .null)
            #expect(Self.number(impossible["knee"]?["brokenAtRate"]) == 40)
            await server.stop()
        }

        @Test("--format html: well-formed, self-contained, its charts hold the embedded report's data")
        func htmlReport() async throws {
            let server = try await TestServer.start()
            let outcome = try await bench([
                "--load-schedule", "step", "--load-start", "100", "--load-step", "100", "--load-end", "300", "--load-step-duration", "300ms",
                "-c", "8", "--warmup", "0",
            ], port: server.port, format: "html")
            #expect(outcome.status == 0, "\(outcome.stderr)")
            let page = outcome.stdout
            try Self.checkWellFormed(page)
            #expect(!page.contains("http://") || !page.replacingOccurrences(of: "http://www.w3.org/", with: "").contains("http://"), "nothing to fetch")
            #expect(!page.contains("<script src") && !page.contains("<link"))
            let json = try Self.embeddedData(page)
            let histogram = json["histogram"]?.arrayElements ?? []
            #expect(!histogram.isEmpty)
            let bars = Self.values(in: Self.chart("histogram", page), series: "calls")
            #expect(bars == histogram.compactMap { Self.number($0["count"]) }, "one bar per histogram bucket, with its count")
            let stages = json["stages"]?.arrayElements ?? []
            #expect(stages.count == 3)
            #expect(Self.values(in: Self.chart("stage-rates", page), series: "offered/s") == [100, 200, 300])
            let achieved = Self.values(in: Self.chart("stage-rates", page), series: "achieved/s")
            #expect(achieved.count == 3 && zip(achieved, stages).allSatisfy { abs($0 - (Self.number($1["rate"]) ?? -1)) < 0.01 })
            let series = json["series"]?.arrayElements ?? []
            #expect(!series.isEmpty)
            #expect(Self.values(in: Self.chart("throughput", page), series: "calls/s").count == series.count)
            #expect(Self.values(in: Self.chart("latency-over-time", page), series: "p99").count == series.count)
            #expect(Self.values(in: Self.chart("statuses", page), series: "calls") == [Self.number(json["requests"]) ?? -1])
            for section in ["Latency histogram", "Throughput over time", "Latency over time", "Stages", "Statuses", "Settings", "Machine"] {
                #expect(page.contains("<h2>\(section)</h2>"), "\(section)")
            }

            let scenario = try await ToolProcess.run("karokar-bench", [
                "scenario", "builtin", "--address", "127.0.0.1:\(server.port)", "--size", "3", "-c", "4", "--duration", "300ms", "--format", "html",
            ])
            #expect(scenario.status == 0, "\(scenario.stderr)")
            try Self.checkWellFormed(scenario.stdout)
            let steps = try Self.embeddedData(scenario.stdout)["load"]?["steps"]?.arrayElements ?? []
            #expect(Self.values(in: Self.chart("step-calls", scenario.stdout), series: "calls") == steps.compactMap { Self.number($0["requests"]) })
            await server.stop()
        }

        /// Python's HTML parser takes the page, and its XML parser the whole document (so every SVG is well-formed).
        static func checkWellFormed(_ page: String) throws {
            let file = NSTemporaryDirectory() + "karokar-report-\(UUID().uuidString).html"
            try page.write(toFile: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: file) }
            let script = """
                import sys, html.parser, xml.etree.ElementTree as ET
                text = open(sys.argv[1], encoding="utf-8").read()
                html.parser.HTMLParser().feed(text)
                root = ET.fromstring(text)
                svgs = root.findall(".//{http://www.w3.org/2000/svg}svg")
                assert svgs, "no SVG chart"
                print(len(svgs))
                """
            let outcome = try ChildProcess.runBlocking(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, file], timeout: .seconds(120))
            #expect(outcome.status == 0, "\(outcome)")
        }

        static func embeddedData(_ page: String) throws -> JSONValue {
            let open = #"<script type="application/json" id="karokar-bench-data">"#
            guard let start = page.range(of: open), let end = page.range(of: "</script>", range: start.upperBound..<page.endIndex) else {
                Issue.record("no embedded data")
                return .null
            }
            return try JSONParser.parse(String(page[start.upperBound..<end.lowerBound]))
        }

        /// The SVG element with this id.
        static func chart(_ id: String, _ page: String) -> String {
            guard let start = page.range(of: #"id="\#(id)""#), let end = page.range(of: "</svg>", range: start.upperBound..<page.endIndex) else { return "" }
            return String(page[start.lowerBound..<end.lowerBound])
        }

        /// The `data-value`s of a chart's marks of one series, in order.
        static func values(in chart: String, series: String) -> [Double] {
            var result: [Double] = []
            var rest = Substring(chart)
            let marker = #"data-series="\#(series)" data-"#
            while let found = rest.range(of: marker) {
                rest = rest[found.upperBound...]
                guard let value = rest.range(of: #"value=""#) else { break }
                let tail = rest[value.upperBound...]
                let number = tail.prefix { $0 != "\"" }
                result.append(Double(number) ?? .nan)
            }
            return result
        }

        @Test("compare: an equal pair passes, a slower p99 is a regression (exit 2), a faster one is not")
        func compareReports() async throws {
            let server = try await TestServer.start()
            let base = try await bench(["--total", "500", "--warmup", "0", "-c", "4"], port: server.port)
            #expect(base.status == 0)
            await server.stop()
            let directory = try ScratchDirectory()
            defer { directory.remove() }
            let basePath = directory.path + "/base.json", slowerPath = directory.path + "/slower.json", fasterPath = directory.path + "/faster.json"
            try base.stdout.write(toFile: basePath, atomically: true, encoding: .utf8)
            let json = try JSONParser.parse(base.stdout)
            let p99 = Self.number(json["latencyMicros"]?["p99"]) ?? 0
            try Self.replacing(json, p99: p99 * 1.5).prettyJSONText.write(toFile: slowerPath, atomically: true, encoding: .utf8)
            try Self.replacing(json, p99: p99 * 0.5).prettyJSONText.write(toFile: fasterPath, atomically: true, encoding: .utf8)

            let same = try await ToolProcess.run("karokar-bench", ["compare", basePath, basePath])
            #expect(same.status == 0, "\(same.stdout)\(same.stderr)")
            #expect(same.stdout.contains("latencyMicros.p99") && same.stdout.contains("+0.0%"))
            let slower = try await ToolProcess.run("karokar-bench", ["compare", basePath, slowerPath, "--threshold", "20%"])
            #expect(slower.status == 2)
            #expect(slower.stdout.contains("REGRESSION") && slower.stderr.contains("latencyMicros.p99"), "\(slower.stdout)")
            let lenient = try await ToolProcess.run("karokar-bench", ["compare", basePath, slowerPath, "--threshold", "60%"])
            #expect(lenient.status == 0)
            let faster = try await ToolProcess.run("karokar-bench", ["compare", basePath, fasterPath, "--figure", "latencyMicros.p99"])
            #expect(faster.status == 0, "\(faster.stdout)")
            let unreadable = try await ToolProcess.run("karokar-bench", ["compare", basePath, directory.path + "/missing.json"])
            #expect(unreadable.status == 1 && unreadable.stderr.contains("no such file"))
        }

        private static func replacing(_ json: JSONValue, p99: Double) -> JSONValue {
            guard case .object(var members) = json, let index = members.firstIndex(where: { $0.key == "latencyMicros" }),
                  case .object(var latency) = members[index].value, let p99Index = latency.firstIndex(where: { $0.key == "p99" }) else { return json }
            latency[p99Index].value = .number(String(p99))
            members[index].value = .object(latency)
            return .object(members)
        }

        @Test("--data-file: one request per line, round robin exactly, or at random; a bad line is refused with its number")
        func dataFile() async throws {
            let server = try await TestServer.start()
            let directory = try ScratchDirectory()
            defer { directory.remove() }
            let file = directory.path + "/requests.jsonl"
            try """
                {"name": "karokar.rpc.v1.EchoRequest"}

                {"name": "missing.{{seq}}"}
                {"name": "karokar.rpc.v1.EchoResponse"}

                """.write(toFile: file, atomically: true, encoding: .utf8)
            let common = ["--call", "karokar.rpc.v1.ReflectionService/DescribeType", "--data-file", file, "--total", "300", "--warmup", "0", "-c", "4", "--connections", "2"]
            let roundRobin = try await report(common, port: server.port)
            #expect(Self.counts(roundRobin["statuses"]) == ["OK": 200, "NOT_FOUND": 100])
            let random = try await report(common + ["--data-order", "random", "--seed", "7"], port: server.port)
            let counts = Self.counts(random["statuses"])
            #expect((counts["OK"] ?? 0) + (counts["NOT_FOUND"] ?? 0) == 300 && (counts["NOT_FOUND"] ?? 0) > 40 && (counts["NOT_FOUND"] ?? 0) < 160, "\(counts)")
            try "{\"name\": \"a\"}\n{\"nam\": 1}\n".write(toFile: file, atomically: true, encoding: .utf8)
            let bad = try await bench(common, port: server.port)
            #expect(bad.status == 1 && bad.stderr.contains("line 2"), "\(bad.stderr)")
            await server.stop()
        }

        @Test func badSchedulesAreRefused() async throws {
            let cases: [[String]: String] = [
                ["--load-schedule", "step", "--load-start", "10"]: "needs --load-start, --load-step and --load-end",
                ["--load-schedule", "zigzag", "--load-start", "1", "--load-step", "1", "--load-end", "2"]: "const, step or line",
                ["--load-schedule", "step", "--load-start", "10", "--load-step=-1", "--load-end", "20"]: "lead from",
                ["--load-schedule", "step", "--load-start", "1", "--load-step", "1", "--load-end", "100000"]: "more than 500 stages",
                ["--p99", "5ms"]: "--load-schedule step or line",
                ["--load-schedule", "step", "--load-start", "1", "--load-step", "1", "--load-end", "2", "--concurrency-schedule", "line",
                 "--concurrency-start", "1", "--concurrency-step", "1", "--concurrency-end", "3"]: "exclude each other",
            ]
            for (arguments, message) in cases {
                let outcome = try await ToolProcess.run("karokar-bench", arguments + ["--no-progress", "--address", "127.0.0.1:1"])
                #expect(outcome.status == 1, "\(arguments)")
                #expect(outcome.stderr.contains(message), "\(arguments): \(outcome.stderr)")
            }
        }
    }
}
