import Foundation
import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

extension ToolProcesses {
    /// Short `karokar-bench` runs against a live server; the reports must add up. No assertion on
    /// speed: these check consistency only.
    @Suite("karokar-bench reports")
    struct BenchProcessTests {
        struct Report {
            let json: JSONValue

            func integer(_ key: String) -> Int? {
                guard case .number(let text)? = json[key] else { return nil }
                return Int(text)
            }

            func counts(_ key: String) -> [String: Int] {
                var result: [String: Int] = [:]
                for member in json[key]?.objectMembers ?? [] {
                    if case .number(let text) = member.value { result[member.key] = Int(text) }
                }
                return result
            }

            func latency(_ name: String) -> Double? {
                guard case .number(let text)? = json["latencyMicros"]?[name] else { return nil }
                return Double(text)
            }
        }

        private func bench(_ arguments: [String], port: Int) async throws -> Report {
            let outcome = try await ToolProcess.run("karokar-bench", ["--address", "127.0.0.1:\(port)", "--format", "json", "--no-progress"] + arguments)
            #expect(outcome.status == 0, "\(outcome.stderr)")
            return Report(json: try JSONParser.parse(outcome.stdout))
        }

        private func expectConsistent(_ report: Report) {
            let requests = report.integer("requests") ?? -1
            #expect(requests > 0)
            #expect(report.counts("statuses").values.reduce(0, +) == requests, "every call has exactly one status")
            let histogram = report.json["histogram"]?.arrayElements ?? []
            let bucketed = histogram.compactMap { element -> Int? in
                guard case .number(let text)? = element["count"] else { return nil }
                return Int(text)
            }
            #expect(bucketed.reduce(0, +) == requests, "the histogram holds every call")
            let order = ["min", "p50", "p90", "p99", "p99.9", "max"].map { report.latency($0) ?? -1 }
            #expect(order.allSatisfy { $0 >= 0 })
            #expect(order == order.sorted(), "min <= p50 <= p90 <= p99 <= p99.9 <= max: \(order)")
            let mean = report.latency("mean") ?? -1
            #expect(mean >= order.first! && mean <= order.last!)
        }

        @Test func closedLoopTotal() async throws {
            let server = try await TestServer.start()
            let report = try await bench(["--total", "3000", "--warmup", "0", "--concurrency", "8", "--connections", "2"], port: server.port)
            expectConsistent(report)
            #expect(report.integer("requests") == 3000)
            #expect(report.counts("statuses") == ["OK": 3000])
            #expect(report.json["mode"] == .string("closed"))
            await server.stop()
        }

        @Test("templated authenticated calls on a live marketplace: random starts, ends from {{prev + N}}, all accepted")
        func templatedReservations() async throws {
            try await TestMarketplace.run { market in
                let vendor = try await market.onboard(.vendor)
                let fleet = FleetV1.FleetService.Client(market.client)
                let registered = try await fleet.registerVehicle(.init(
                    ownershipType: .vendorOwned, make: "Tata", model: "Nexon", year: 2024, licensePlate: "BENCH1"
                ), options: vendor.admin.callOptions).vehicle!
                try await market.verifyVehicle(registered.id, owner: vendor.admin)
                _ = try await fleet.activateVehicle(.init(vehicleId: registered.id), options: vendor.admin.callOptions)
                // One-hour reservations at distinct hours ({{seq * 3600}}), back to back, so every one must fit.
                let data = """
                    {"vehicleId": "\(registered.id)", "status": "AVAILABILITY_STATUS_RESERVED", "sourceType": "AVAILABILITY_SOURCE_TYPE_BOOKING",
                     "sourceId": "{{uuid}}", "period": {"start": {"seconds": "{{seq * 3600}}"}, "end": {"seconds": "{{prev + 3600}}"}}}
                    """
                let report = try await bench([
                    "--call", "karokar.fleet.v1.AvailabilityService/CreateAvailabilityRecord", "--data", data,
                    "-H", "authorization: Bearer \(vendor.admin.accessToken)", "--total", "200", "--warmup", "0", "--concurrency", "4",
                ], port: market.server.port)
                expectConsistent(report)
                #expect(report.counts("statuses") == ["OK": 200])
                let open = try await market.pool.query("SELECT count(*)::int AS n FROM fleet.availability WHERE released_at IS NULL").single().decode(Int.self, "n")
                #expect(open == 200)
            }
        }

        /// `--idle-connections`: opened and handshaken before the run, open through it, reported
        /// with the server's memory per connection (the server here is this test process).
        @Test func idleConnectionsBesideTheRun() async throws {
            let server = try await TestServer.start()
            let pid = String(ProcessInfo.processInfo.processIdentifier)
            let watcher = Task {
                var most = 0
                while !Task.isCancelled {
                    most = max(most, server.application.server.connectionCount)
                    try? await Task.sleep(for: .milliseconds(5))
                }
                return most
            }
            let report = try await bench(["--idle-connections", "300", "--total", "2000", "--warmup", "0", "-c", "4", "--server-pid", pid], port: server.port)
            watcher.cancel()
            expectConsistent(report)
            #expect(report.counts("statuses") == ["OK": 2000])
            #expect(report.integer("idleConnections") == 300)
            if case .number? = report.json["serverBytesPerIdleConnection"] {} else { Issue.record("no server memory per idle connection") }
            #expect(await watcher.value >= 301, "the idle connections and the active one were open together")
            await server.stop()
        }

        @Test func openLoopDurationWithWarmup() async throws {
            let server = try await TestServer.start()
            let report = try await bench(["--rps", "2000", "--duration", "500ms", "--warmup", "200ms", "-c", "16"], port: server.port)
            expectConsistent(report)
            #expect(report.json["mode"] == .string("open"))
            let requests = report.integer("requests") ?? 0
            #expect(requests <= 1001, "an open loop at 2000/s starts at most 1000 calls in 500 ms (plus rounding), got \(requests)")
            await server.stop()
        }

        @Test func errorStatusesAndDomainCodesAreCounted() async throws {
            let server = try await TestServer.start()
            let report = try await bench([
                "--call", "karokar.rpc.v1.ReflectionService/DescribeType", "--data", #"{"name": "missing.{{seq}}.{{uuid}}"}"#,
                "--total", "200", "--warmup", "0", "-c", "4",
            ], port: server.port)
            expectConsistent(report)
            #expect(report.counts("statuses") == ["NOT_FOUND": 200])
            #expect(report.counts("domainCodes") == ["TYPE_NOT_FOUND": 200])
            await server.stop()
        }

        @Test func csvHasAHeaderAndOneRow() async throws {
            let server = try await TestServer.start()
            let outcome = try await ToolProcess.run("karokar-bench", ["--address", "127.0.0.1:\(server.port)", "--format", "csv", "--total", "100", "--warmup", "0", "-c", "2"])
            let lines = outcome.stdout.split(separator: "\n")
            #expect(lines.count == 2)
            let header = lines[0].split(separator: ",", omittingEmptySubsequences: false)
            let row = lines[1].split(separator: ",", omittingEmptySubsequences: false)
            #expect(header.count == row.count)
            #expect(row[header.firstIndex(of: "requests")!] == "100" && row[header.firstIndex(of: "statuses")!] == "OK=100")
            await server.stop()
        }

        @Test func builtinScenarioReportsEveryStep() async throws {
            let server = try await TestServer.start()
            let outcome = try await ToolProcess.run("karokar-bench", [
                "scenario", "builtin", "--address", "127.0.0.1:\(server.port)", "--duration", "300ms", "--size", "7",
                "-c", "4", "--mix", "health=2,describe-type=1,echo=1", "--format", "json",
            ])
            #expect(outcome.status == 0, "\(outcome.stderr)")
            let report = try JSONParser.parse(outcome.stdout)
            let setup = report["setup"]?.arrayElements ?? []
            #expect(setup.map { $0["phase"] } == [.string("discover"), .string("learn-types")])
            #expect(Self.steps(setup.last)["describe-type"]?.integer("requests") == 7, "setup runs each step its number of times")
            let load = Self.steps(report["load"])
            #expect(Set(load.keys) == ["health", "describe-type", "echo"])
            #expect(load.values.compactMap { $0.integer("requests") }.reduce(0, +) == Report(json: report["load"]!).integer("requests"))
            for (step, stats) in load {
                #expect(stats.counts("statuses") == ["OK": stats.integer("requests") ?? -1], "\(step)")
            }
            await server.stop()
        }

        /// A scenario needs all its methods: against a server without reflection it refuses to start.
        @Test func scenarioRefusesAServerMissingItsMethods() async throws {
            let service = SlowEchoService()
            let (server, address) = try await service.startServer(limits: ServerLimits())
            let outcome = try await ToolProcess.run("karokar-bench", ["scenario", "builtin", "--address", "127.0.0.1:\(address.port!)", "--duration", "1s"])
            #expect(outcome.status != 0)
            #expect(outcome.stderr.contains("UNIMPLEMENTED") && outcome.stderr.contains("ReflectionService/ListServices"))
            await server.close()
        }

        static func steps(_ json: JSONValue?) -> [String: Report] {
            var result: [String: Report] = [:]
            for step in json?["steps"]?.arrayElements ?? [] {
                if case .string(let name)? = step["step"] { result[name] = Report(json: step) }
            }
            return result
        }

        @Test func badInputIsRefusedBeforeAnyLoad() async throws {
            let cases: [([String], Int32, String)] = [
                (["--call", "no.Such/Method"], 1, "unknown service"),
                (["--data", #"{"payload": 5}"#], 1, "expects base64 text"),
                (["--data", #"{"payload": "{{nope}}"}"#], 1, "unknown or malformed placeholder"),
                (["--format", "xml"], 64, "--format"),
                (["--concurrency", "0"], 64, "at least 1"),
                (["--address", "127.0.0.1:1", "--total", "1"], 1, "cannot connect"),
            ]
            for (arguments, status, message) in cases {
                let outcome = try await ToolProcess.run("karokar-bench", arguments + ["--no-progress"])
                #expect(outcome.status == status, "\(arguments)")
                #expect(outcome.stderr.contains(message), "\(arguments): \(outcome.stderr)")
            }
        }
    }
}

extension JSONValue {
    var arrayElements: [JSONValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }
}
