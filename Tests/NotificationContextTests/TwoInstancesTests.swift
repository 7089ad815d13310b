import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarServer
import KaroKarTestSupport
import Testing

/// Two server processes on one database share the senders' work: every delivery is claimed by
/// one of them (`FOR UPDATE SKIP LOCKED`), so the SMTP server receives each message exactly once.
@Suite(.serialized)
struct TwoInstancesTests {
    /// 1,000 e-mails by default (`KAROKAR_NOTIFICATION_TWO_INSTANCES=N` for N events × 2).
    static let events = Int(ProcessInfo.processInfo.environment["KAROKAR_NOTIFICATION_TWO_INSTANCES"] ?? "") ?? 500

    @Test func twoInstancesSendEachMessageExactlyOnce() async throws {
        let noHTTP: @Sendable (inout ServerSettings) -> Void = { settings in
            settings.notification.push = nil
            settings.notification.sms = nil
            settings.notification.maximumInFlight = 16
        }
        try await NotificationWorld.run(noHTTP) { world in
            let second = try await TestServer.start(pool: world.market.pool) { settings in
                NotificationWorld.senders(&settings, smtp: world.smtp, http: world.http)
                noHTTP(&settings)
            }
            do {
                try await deliver(world)
            } catch {
                await second.stop()
                throw error
            }
            await second.stop()
        }
    }

    func deliver(_ world: NotificationWorld) async throws {
            let bus = world.market.server.application.bus!
            let started = Date()
            for batch in stride(from: 0, to: Self.events, by: 50) {
                try await bus.transaction(.system()) { work in
                    for _ in batch..<min(batch + 50, Self.events) {
                        let booking = UUID().uuidString.lowercased()
                        try await work.publish(EventDraft("booking.requested", aggregateType: "booking", aggregateID: booking, payload: .bookingRequested(.init(
                            bookingId: booking, vehicleId: UUID().uuidString.lowercased(), vendorOrganizationId: world.vendor.id,
                            corporateOrganizationId: UUID().uuidString.lowercased(),
                            period: .init(start: .init(seconds: 1_814_400_000), end: .init(seconds: 1_814_486_400)), requestedBy: UUID().uuidString.lowercased()
                        ))))
                    }
                }
            }
            let expected = Self.events * 2
            func requests() -> [SMTPRecorder.Message] { world.smtp.messages.filter { $0.subject.hasPrefix("New booking request") } }
            #expect(try await world.waitUntil(seconds: 180) { requests().count >= expected })
            // A moment more: nothing further arrives (no message is sent twice).
            try await Task.sleep(for: .milliseconds(500))
            let received = requests()
            let ids = received.map(\.messageId)
            #expect(received.count == expected && Set(ids).count == expected)
            let attempts = world.smtp.attempts.filter { id in ids.contains(id) }
            #expect(attempts.count == expected)
            // SENT is recorded in group-commit batches after the server's 250 reply, so the rows
            // may trail the SMTP server's copy by a batch: wait until every delivery is SENT (or 90 s).
            func counts() async throws -> (once: Int, sent: Int, total: Int) {
                let rows = try await world.pool.query("""
                    SELECT count(*) FILTER (WHERE status = 'SENT' AND attempts = 1)::int8 AS once,
                           count(*) FILTER (WHERE status = 'SENT')::int8 AS sent, count(*)::int8 AS total
                    FROM notification.deliveries WHERE channel = 'EMAIL' AND event_type = 'booking.requested'
                    """).single()
                return (try rows.decode(Int.self, "once"), try rows.decode(Int.self, "sent"), try rows.decode(Int.self, "total"))
            }
            _ = try await world.waitUntil(seconds: 90) { try await counts().sent >= expected }
            let recorded = try await counts()
            // Every delivery SENT, each once at the SMTP server (above: one DATA per message). Under
            // load a few take a second attempt (seen: 12 of 1,000 with other suites running), still
            // with one copy received: their first attempt failed before DATA, waiting longer than
            // the world's 1.5 s SMTP timeout for a pooled connection ("no SMTP connection came free",
            // with KAROKAR_TEST_LOG_LEVEL=notice), and was retried as it should be. Counted, not failed.
            #expect(recorded.sent == expected && recorded.total == expected, "each of the \(expected) deliveries SENT: \(recorded)")
            if recorded.once != expected { print("two instances: \(expected - recorded.once) deliveries took more than one attempt") }
            print("two instances: \(expected) e-mails in \(String(format: "%.1f", Date().timeIntervalSince(started))) s (loaded machine)")
    }
}
