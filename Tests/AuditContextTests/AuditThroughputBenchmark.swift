@testable import AuditContext
import Foundation
import KaroKarKernel
import KaroKarPostgres
import KaroKarTestSupport
import Logging
import Testing

/// Audit keeping up with the outbox (opt in: KAROKAR_AUDIT_RATE=2000, events per second offered,
/// KAROKAR_AUDIT_SECONDS, default 10): 16 publishers, open loop (each sends on its schedule,
/// however late the previous one was), the Audit consumer on one relay. Prints the publish rate
/// achieved and the lag of each record behind its event (audit `recorded_at` minus the outbox's
/// `recorded_at`): p50, p99, max. Then checks every event has its record and the chain holds.
@Suite("Audit: keeping up with the outbox (opt in)")
struct AuditThroughputBenchmark {
    static let rate = Int(ProcessInfo.processInfo.environment["KAROKAR_AUDIT_RATE"] ?? "") ?? 0
    static let seconds = Int(ProcessInfo.processInfo.environment["KAROKAR_AUDIT_SECONDS"] ?? "") ?? 10

    @Test(.enabled(if: rate > 0)) func auditKeepsUp() async throws {
        let (app, superuser) = try await applicationDatabase()
        let bus = EventBus(pool: app)
        let audit = Audit(environment: environment(bus))
        var logger = Logger(label: "audit-bench")
        logger.logLevel = .warning
        let relay = EventRelay(bus: bus, logger: logger)
        let running = Task { await relay.run() }
        try await Task.sleep(for: .milliseconds(500))  // registered, listening

        let publishers = 16
        let perPublisher = Self.rate * Self.seconds / publishers
        let interval = Duration.seconds(1) / (Double(Self.rate) / Double(publishers))
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for publisher in 0..<publishers {
                group.addTask {
                    for n in 0..<perPublisher {
                        try await Task.sleep(until: started + interval * n, clock: .continuous)
                        try await bus.transaction(.system()) { try await $0.publish(event("p\(publisher)-\(n % 50)", version: Int64(n))) }
                    }
                }
            }
            try await group.waitForAll()
        }
        let publishing = ContinuousClock.now - started
        let total = perPublisher * publishers
        #expect(try await eventually { try await count(app, "SELECT count(*)::int FROM audit.records") == total })
        running.cancel()
        await running.value
        let lag = try await app.query("""
            SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99,
                   max(ms) AS worst
            FROM (SELECT extract(epoch FROM r.recorded_at - o.recorded_at)::float8 * 1000 AS ms
                  FROM audit.records AS r JOIN karokar_events.outbox AS o USING (event_id)) AS l
            """).single()
        let offered = Double(total) / (Double(publishing.components.seconds) + Double(publishing.components.attoseconds) / 1e18)
        print(String(
            format: "audit at %d events/s offered (%d publishers, %d events): published at %.0f/s; lag p50 %.1f ms, p99 %.1f ms, max %.1f ms",
            Self.rate, publishers, total, offered, try lag.decode(Double.self, "p50"), try lag.decode(Double.self, "p99"),
            try lag.decode(Double.self, "worst")
        ))
        let verifying = ContinuousClock.now
        let chain = try await audit.verifyChain(from: nil, to: nil, .system())
        print("audit chain after the run: intact \(chain.intact), \(chain.recordsChecked) records verified in \(ContinuousClock.now - verifying)")
        #expect(chain.intact && chain.recordsChecked == Int64(total))
        await app.close()
        await superuser.close()
    }
}
