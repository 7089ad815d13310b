import KaroKarProto
import KaroKarTestSupport
import Testing

extension ToolProcesses.BenchProcessTests {
    /// The marketplace scenario against a live server and a real PostgreSQL, twice on the same
    /// server (the run tag keeps names and plates apart): setup builds exactly what it says, the
    /// mix's counts add up, only refusals by design fail, searches find vehicles, and the holds
    /// the mix placed are all withdrawn again.
    @Test("marketplace scenario: setup builds its data through the RPCs, the mix adds up, holds are withdrawn")
    func marketplaceScenario() async throws {
        try await TestMarketplace.run { market in
            // By count, not time: every step of the mix runs whatever the machine's load.
            for (run, total) in ["600", "300"].enumerated() {
                let report = try await marketplace(["--total", total], port: market.server.port)
                expectSetup(report)
                expectMix(report)
                let open = try await market.pool.query(
                    "SELECT count(*)::int AS n FROM fleet.availability WHERE released_at IS NULL"
                ).single().decode(Int.self, "n")
                #expect(open == 8 * (run + 1), "only setup's 4 maintenance records and 4 blocks per run stay open")
            }
            let active = try await market.pool.query("SELECT count(*)::int AS n FROM fleet.vehicle WHERE status = 'ACTIVE'").single().decode(Int.self, "n")
            #expect(active == 24)
        }
    }

    @Test func marketplaceScenarioNeedsTheAdministratorsPassword() async throws {
        let outcome = try await ToolProcess.run("karokar-bench", ["scenario", "marketplace", "--admin-password-file", "/nonexistent/password"])
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("platform administrator") && outcome.stderr.contains("--admin-password"), "\(outcome.stderr)")
    }

    private func marketplace(_ arguments: [String], port: Int) async throws -> JSONValue {
        let outcome = try await ToolProcess.run("karokar-bench", [
            "scenario", "marketplace", "--address", "127.0.0.1:\(port)", "--format", "json", "-c", "4", "--seed", "11",
            "--size", "3", "--corporates", "2", "--vehicles-per-vendor", "4",
            "--admin-email", TestIdentity.adminEmail, "--admin-password", TestIdentity.adminPassword,
        ] + arguments)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        return try JSONParser.parse(outcome.stdout)
    }

    /// 3 vendors and 2 corporates, 12 vehicles, holds on every third (4) and the next (4).
    private func expectSetup(_ report: JSONValue) {
        let phases = report["setup"]?.arrayElements ?? []
        let expected: [(String, [String: Int])] = [
            ("sign-in-platform", ["login": 1]),
            ("register-organizations", ["register-vendor": 3, "register-corporate": 2]),
            ("approve-organizations", ["approve-organization": 5]),
            ("sign-in-organizations", ["login": 5]),
            ("register-vehicles", ["register-vehicle": 12]),
            ("submit-verifications", ["submit-verification": 36]),
            ("approve-verifications", ["approve-verification": 36]),
            ("activate-vehicles", ["activate-vehicle": 12]),
            ("schedule-holds", ["schedule-maintenance": 4, "place-block": 4]),
            ("add-employees", ["add-employee": 2]),
            ("set-allocations", ["set-allocation": 2]),
        ]
        #expect(phases.map { $0["phase"] } == expected.map { .string($0.0) })
        for (phase, (name, counts)) in zip(phases, expected) {
            let steps = Self.steps(phase)
            #expect(steps.mapValues { $0.integer("requests") ?? -1 } == counts, "\(name)")
            #expect(steps.allSatisfy { $0.value.counts("statuses") == ["OK": counts[$0.key] ?? -1] }, "\(name): setup never fails")
        }
    }

    private func expectMix(_ report: JSONValue) {
        let load = Self.steps(report["load"])
        let mix: Set<String> = [
            "search", "check-availability", "get-vehicle", "vehicle-timeline", "list-fleet", "who-am-i", "schedule-maintenance", "place-block",
            "create-booking", "self-book",
        ]
        // A booking's life is a chain of follow-ups; which links a short run reaches is random.
        let followUps: Set<String> = [
            "cancel-maintenance", "remove-block", "submit-booking", "submit-own-booking", "approve-booking", "approve-own-booking",
            "reject-booking", "assign-booking", "accept-assignment", "activate-booking", "complete-booking", "terminate-booking", "cancel-booking",
        ]
        #expect(mix.union(["cancel-maintenance", "remove-block"]).isSubset(of: Set(load.keys)), "every step of the mix ran")
        #expect(Set(load.keys).isSubset(of: mix.union(followUps)), "\(load.keys)")
        #expect(load.values.compactMap { $0.integer("requests") }.reduce(0, +) == Report(json: report["load"]!).integer("requests"))
        #expect(Report(json: report["load"]!).integer("unexpected") == 0)
        // Steps whose refusals are outcomes by design, and the domain codes they may carry.
        let refusing: [String: Set<String>] = [
            "schedule-maintenance": ["VEHICLE_NOT_AVAILABLE"], "place-block": ["VEHICLE_NOT_AVAILABLE"],
            "submit-booking": ["VEHICLE_NOT_AVAILABLE", "ALLOCATION_EXCEEDED"], "submit-own-booking": ["VEHICLE_NOT_AVAILABLE", "ALLOCATION_EXCEEDED"],
            "approve-booking": ["VEHICLE_NOT_AVAILABLE", "ALLOCATION_EXCEEDED"], "approve-own-booking": ["VEHICLE_NOT_AVAILABLE", "ALLOCATION_EXCEEDED"],
        ]
        for (name, step) in load {
            let requests = step.integer("requests") ?? -1
            let statuses = step.counts("statuses")
            #expect(requests > 0 && statuses.values.reduce(0, +) == requests, "\(name): every call has one status")
            #expect(step.integer("unexpected") == 0, "\(name): \(step.json)")
            if let codes = refusing[name] {
                let refused = statuses["FAILED_PRECONDITION"] ?? 0
                #expect(Set(statuses.keys).isSubset(of: ["OK", "FAILED_PRECONDITION"]), "\(name): \(statuses)")
                #expect(step.counts("domainCodes").values.reduce(0, +) == refused, "\(name)")
                #expect(Set(step.counts("domainCodes").keys).isSubset(of: codes), "\(name)")
                if name == "place-block" || name == "schedule-maintenance" {
                    let followUp = name == "place-block" ? "remove-block" : "cancel-maintenance"
                    #expect(load[followUp]?.integer("requests") == statuses["OK"], "each hold placed is withdrawn once")
                }
            } else {
                #expect(statuses == ["OK": requests], "\(name)")
            }
        }
        let tallies = Report(json: report)
        #expect((tallies.counts("tallies")["search.vehicles-found"] ?? 0) > 0, "searches found vehicles")
    }
}
