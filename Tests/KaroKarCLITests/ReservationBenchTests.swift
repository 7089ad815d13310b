import KaroKarPostgres
import KaroKarProto
import KaroKarTestSupport
import Testing

extension ToolProcesses {
    /// `karokar-bench reservations` against a real PostgreSQL: every reservation it counts went
    /// through Fleet's reaction (a RESERVED record and its event for each approved booking), and a
    /// second run reuses the seeded database. Consistency only, no assertion on speed.
    @Suite("karokar-bench reservations")
    struct ReservationBenchTests {
        private func figure(_ json: JSONValue, _ key: String) -> Double {
            guard case .number(let text)? = json[key] else { return -1 }
            return Double(text) ?? -1
        }

        @Test func everyCountedReservationIsARecordWithItsEvents() async throws {
            let (pool, url) = try await TestDatabase.fresh()
            var measured = 0.0
            for _ in 0..<2 {
                let outcome = try await ToolProcess.run("karokar-bench", [
                    "reservations", "--database-url", url, "--vehicles", "50", "--concurrency", "4",
                    "--duration", "0.5", "--warmup", "0.2", "--report", "json",
                ])
                #expect(outcome.status == 0, "\(outcome.stderr)")
                let report = try JSONParser.parse(outcome.stdout)
                #expect(figure(report, "reservations") > 0)
                #expect(figure(report, "p50_ms") <= figure(report, "p99_ms"))
                measured += figure(report, "reservations")
            }
            func count(_ sql: SQL) async throws -> Int {
                try await pool.query(sql).single().decode(Int.self, "n")
            }
            #expect(try await count("SELECT count(*)::int AS n FROM fleet.vehicle") == 50, "the second run reused the seeded vehicles")
            let records = try await count("SELECT count(*)::int AS n FROM fleet.availability WHERE status = 'RESERVED' AND source_type = 'BOOKING' AND released_at IS NULL")
            #expect(Double(records) >= measured, "warm-up and measured reservations all left a record")
            #expect(try await count("SELECT count(*)::int AS n FROM karokar_events.outbox WHERE event_type = 'booking.approved'") == records)
            #expect(try await count("SELECT count(*)::int AS n FROM karokar_events.outbox WHERE event_type = 'availability.created'") == records)
            await pool.close()
        }
    }
}
