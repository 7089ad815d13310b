import Foundation
import KaroKarMessages
import KaroKarRPC
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import Testing

extension ToolProcesses {
    /// `karokar events ...` against the real server: consumer lag and dead letters for platform
    /// administrators (karokar.events.v1.EventOperationsService), refused to anyone else.
    @Suite("karokar events: consumer lag and dead letters")
    struct EventOperationsProcessTests {
        private func karokar(_ arguments: [String], market: TestMarketplace, token: String, config: ScratchDirectory) async throws -> ToolProcess.Outcome {
            try await ToolProcess.run(
                "karokar", ["events"] + arguments + ["--address", "127.0.0.1:\(market.server.port)", "--token", token],
                environment: ["XDG_CONFIG_HOME": config.path]
            )
        }

        /// A consumer no server runs, with a dead delivery of the outbox's first event.
        private func deadLetter(_ market: TestMarketplace, consumer: String) async throws -> Int64 {
            try await market.pool.query("""
                INSERT INTO karokar_events.consumer (name, patterns, position, on_dead) VALUES (\(consumer), '{*}', 0, 'wait')
                ON CONFLICT DO NOTHING
                """)
            return try await market.pool.query("""
                INSERT INTO karokar_events.delivery (consumer, seq, aggregate_key, state, attempts, last_error)
                SELECT \(consumer), seq, aggregate_type || ':' || aggregate_id, 'dead', 10, 'handler exploded'
                FROM karokar_events.outbox ORDER BY seq LIMIT 1
                RETURNING seq
                """).single().decode(Int64.self, "seq")
        }

        @Test func platformAdministratorsSeeLagAndReplayOrDiscardDeadLetters() async throws {
            try await TestMarketplace.run { market in
                let config = try ScratchDirectory()
                defer { config.remove() }
                let platform = try await market.platformAdmin().accessToken
                let seq = try await deadLetter(market, consumer: "ops_probe")

                let consumers = try await karokar(["consumers"], market: market, token: platform, config: config)
                #expect(consumers.status == 0, "\(consumers.stderr)")
                #expect(consumers.stdout.contains("\"ops_probe\"") && consumers.stdout.contains("\"dead\": \"1\""), "\(consumers.stdout)")

                let letters = try await karokar(["dead-letters", "--consumer", "ops_probe"], market: market, token: platform, config: config)
                #expect(letters.status == 0, "\(letters.stderr)")
                #expect(letters.stdout.contains("handler exploded") && letters.stdout.contains("\"sequence\": \"\(seq)\""), "\(letters.stdout)")

                let replay = try await karokar(["replay", "ops_probe", "\(seq)"], market: market, token: platform, config: config)
                #expect(replay.status == 0, "\(replay.stderr)")
                let state = try await market.pool.query("""
                    SELECT state, attempts FROM karokar_events.delivery WHERE consumer = 'ops_probe' AND seq = \(seq)
                    """).single()
                #expect(try state.decode(String.self, "state") == "pending" && state.decode(Int.self, "attempts") == 0)
                let again = try await karokar(["replay", "ops_probe", "\(seq)"], market: market, token: platform, config: config)
                #expect(again.status == 64 + 5 && again.stderr.contains("DEAD_LETTER_NOT_FOUND"), "\(again.status) \(again.stderr)")

                try await market.pool.query("UPDATE karokar_events.delivery SET state = 'dead' WHERE consumer = 'ops_probe'")
                let discard = try await karokar(["discard", "ops_probe", "\(seq)"], market: market, token: platform, config: config)
                #expect(discard.status == 0, "\(discard.stderr)")
                #expect(try await market.pool.query("SELECT 1 FROM karokar_events.delivery WHERE consumer = 'ops_probe'").isEmpty)

                let malformed = try await karokar(["replay", "Not A Name", "0"], market: market, token: platform, config: config)
                #expect(malformed.status == 64 + 3, "INVALID_ARGUMENT: \(malformed.stderr)")

                // Each act of the operator is audited, the operator its actor; refused ones are not.
                let operatorID = try await market.platformAdmin().userID
                #expect(try await Self.audited(market, ["events.dead_letter_replayed", "events.dead_letter_discarded"], actor: operatorID))
            }
        }

        /// Waits (up to 30 s) until the audit trail holds exactly `types`, in order, among the
        /// `events.*` records, each with `actor` as its user actor.
        static func audited(_ market: TestMarketplace, _ types: [String], actor: String) async throws -> Bool {
            let started = ContinuousClock.now
            var seen: [String] = []
            while ContinuousClock.now - started < .seconds(30) {
                let rows = try await market.pool.query("""
                    SELECT event_type, actor_id, actor_type FROM audit.records WHERE event_type LIKE 'events.%' ORDER BY sequence
                    """)
                seen = try rows.map { try $0.decode(String.self, "event_type") }
                if seen == types {
                    return try rows.allSatisfy { try $0.decode(String?.self, "actor_id") == actor && $0.decode(String.self, "actor_type") == "USER" }
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            Issue.record("audited events.*: \(seen)")
            return false
        }

        @Test func aRetiredConsumerIsForgottenButNotOneTheServerRuns() async throws {
            try await TestMarketplace.run { market in
                let config = try ScratchDirectory()
                defer { config.remove() }
                let platform = try await market.platformAdmin()
                _ = try await deadLetter(market, consumer: "retired_probe")
                try await market.pool.query("""
                    INSERT INTO karokar_events.delivery (consumer, seq, aggregate_key, state, attempts)
                    SELECT 'retired_probe', seq, aggregate_type || ':' || aggregate_id, 'pending', 0
                    FROM karokar_events.outbox ORDER BY seq OFFSET 1 LIMIT 2
                    """)
                let running = try await karokar(["forget-consumer", "audit"], market: market, token: platform.accessToken, config: config)
                #expect(running.status == 64 + 9 && running.stderr.contains("CONSUMER_IN_USE"), "\(running.status) \(running.stderr)")
                #expect(try await market.pool.query("SELECT 1 FROM karokar_events.consumer WHERE name = 'audit'").count == 1)

                let vendor = try await market.onboard(.vendor)
                let tenant = try await karokar(["forget-consumer", "retired_probe"], market: market, token: vendor.admin.accessToken, config: config)
                #expect(tenant.status == 64 + 7, "PERMISSION_DENIED: \(tenant.stderr)")

                let forgotten = try await karokar(["forget-consumer", "retired_probe"], market: market, token: platform.accessToken, config: config)
                #expect(forgotten.status == 0 && forgotten.stdout.contains("\"deliveriesDropped\": \"3\""), "\(forgotten.stdout) \(forgotten.stderr)")
                #expect(try await market.pool.query("SELECT 1 FROM karokar_events.consumer WHERE name = 'retired_probe'").isEmpty)
                #expect(try await market.pool.query("SELECT 1 FROM karokar_events.delivery WHERE consumer = 'retired_probe'").isEmpty)
                let again = try await karokar(["forget-consumer", "retired_probe"], market: market, token: platform.accessToken, config: config)
                #expect(again.status == 64 + 5 && again.stderr.contains("CONSUMER_NOT_FOUND"), "\(again.status) \(again.stderr)")
                let malformed = try await karokar(["forget-consumer", "Not A Name"], market: market, token: platform.accessToken, config: config)
                #expect(malformed.status == 64 + 3, "INVALID_ARGUMENT: \(malformed.stderr)")
                #expect(try await Self.audited(market, ["events.consumer_forgotten"], actor: platform.userID))
            }
        }

        @Test func tenantsAreRefused() async throws {
            try await TestMarketplace.run { market in
                let config = try ScratchDirectory()
                defer { config.remove() }
                let seq = try await deadLetter(market, consumer: "ops_probe")
                let vendor = try await market.onboard(.vendor)
                for arguments in [
                    ["consumers"], ["dead-letters"], ["replay", "ops_probe", "\(seq)"], ["discard", "ops_probe", "\(seq)"], ["forget-consumer", "ops_probe"],
                ] {
                    let outcome = try await karokar(arguments, market: market, token: vendor.admin.accessToken, config: config)
                    #expect(outcome.status == 64 + 7, "PERMISSION_DENIED for \(arguments): \(outcome.stderr)")
                }
                #expect(try await market.pool.query("SELECT state FROM karokar_events.delivery WHERE consumer = 'ops_probe'").single()
                    .decode(String.self, "state") == "dead", "nothing changed")
                #expect(try await market.pool.query("SELECT 1 FROM karokar_events.outbox WHERE event_type LIKE 'events.%'").isEmpty, "nothing published")
            }
        }
    }
}
