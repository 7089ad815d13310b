import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarServer
import KaroKarTestSupport
import Testing

/// Notification keeping up (opt in: KAROKAR_NOTIFICATION_RATE=2000, events per second offered,
/// KAROKAR_NOTIFICATION_SECONDS, default 60; Deploy/bench-notification.sh): `booking.requested`
/// events published open loop by 16 publishers through the real server's bus, each notifying two
/// recipients (the vendor's admin and staff) in-app and by e-mail to a local aiosmtpd. Prints the
/// rate achieved, the e-mail delivery lag (sent_at minus the event's outbox recorded_at: p50,
/// p99, max) and the backlog (PENDING e-mails) sampled every second.
@Suite("Notification: keeping up (opt in)")
struct NotificationBenchmark {
    static let rate = Int(ProcessInfo.processInfo.environment["KAROKAR_NOTIFICATION_RATE"] ?? "") ?? 0
    static let seconds = Int(ProcessInfo.processInfo.environment["KAROKAR_NOTIFICATION_SECONDS"] ?? "") ?? 60

    @Test(.enabled(if: rate > 0)) func notificationKeepsUp() async throws {
        try await NotificationWorld.run({ settings in
            settings.notification.push = nil
            settings.notification.sms = nil
            settings.notification.maximumInFlight = Int(ProcessInfo.processInfo.environment["KAROKAR_NOTIFICATION_IN_FLIGHT"] ?? "") ?? 64
            settings.databasePoolSize = 20
        }) { world in
            let bus = world.market.server.application.bus!
            let vendor = world.vendor.id
            let publishers = 16
            let perPublisher = Self.rate * Self.seconds / publishers
            let interval = Duration.seconds(1) / (Double(Self.rate) / Double(publishers))
            let started = ContinuousClock.now
            let sampler = Task {
                var backlog: [Int] = []
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    let pending = (try? await world.pool.query("""
                        SELECT count(*)::int8 AS n FROM notification.deliveries WHERE status = 'PENDING' AND channel = 'EMAIL'
                        """).single().decode(Int.self, "n")) ?? -1
                    backlog.append(pending)
                }
                return backlog
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<publishers {
                    group.addTask {
                        for n in 0..<perPublisher {
                            try await Task.sleep(until: started + interval * n, clock: .continuous)
                            let booking = UUID().uuidString.lowercased()
                            try await bus.transaction(.system()) { work in
                                try await work.publish(EventDraft("booking.requested", aggregateType: "booking", aggregateID: booking, payload: .bookingRequested(.init(
                                    bookingId: booking, vehicleId: UUID().uuidString.lowercased(), vendorOrganizationId: vendor,
                                    corporateOrganizationId: UUID().uuidString.lowercased(),
                                    period: .init(start: .init(seconds: 1_814_400_000), end: .init(seconds: 1_814_486_400)),
                                    requestedBy: UUID().uuidString.lowercased()
                                ))))
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let published = ContinuousClock.now - started
            let offered = perPublisher * publishers
            _ = try await world.waitUntil(seconds: 120) {
                try await world.pool.query("""
                    SELECT count(*)::int8 AS n FROM notification.deliveries WHERE channel = 'EMAIL' AND status = 'SENT'
                      AND event_type = 'booking.requested'
                    """).single().decode(Int.self, "n") >= offered * 2
            }
            sampler.cancel()
            let backlog = await sampler.value
            let lag = try await world.pool.query("""
                SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) AS p99,
                       max(lag) AS worst, count(*)::int8 AS sent
                FROM (SELECT extract(epoch FROM d.sent_at - o.recorded_at)::float8 AS lag
                      FROM notification.deliveries d JOIN karokar_events.outbox o ON o.event_id = d.event_id
                      WHERE d.channel = 'EMAIL' AND d.status = 'SENT' AND d.event_type = 'booking.requested') AS lags
                """).single()
            let seconds = Double(published.components.seconds) + Double(published.components.attoseconds) / 1e18
            print("""
                notification bench (LOADED shared machine): offered \(offered) events (\(Self.rate)/s for \(Self.seconds) s), \
                published in \(String(format: "%.1f", seconds)) s (\(String(format: "%.0f", Double(offered) / seconds))/s); \
                e-mails sent \(try lag.decode(Int.self, "sent")) of \(offered * 2); lag p50 \(String(format: "%.3f", try lag.decode(Double.self, "p50"))) s, \
                p99 \(String(format: "%.3f", try lag.decode(Double.self, "p99"))) s, max \(String(format: "%.3f", try lag.decode(Double.self, "worst"))) s; \
                backlog per second: \(backlog)
                """)
        }
    }
}
