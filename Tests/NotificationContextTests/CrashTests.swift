import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarServer
import KaroKarTestSupport
import Testing

/// `kill -9` of a server process in the middle of sending: nothing is lost. Its claims expire
/// (the lease) and another process sends them, with the same Message-IDs.
@Suite(.serialized)
struct CrashTests {
    @Test func aKilledSenderLosesNothing() async throws {
        try await NotificationWorld.run({ $0.notification.sending = false }) { world in
            // The server accepts the messages' data and never answers: the process is mid-send.
            try world.smtp.behave("hang")
            let process = try await ServerProcess.start(databaseURL: world.market.pool.configuration.connectionString, environment: [
                "KAROKAR_NOTIFICATION_SMTP_HOST": "127.0.0.1", "KAROKAR_NOTIFICATION_SMTP_PORT": "\(world.smtp.port)",
                "KAROKAR_NOTIFICATION_SMTP_FROM": "notifications@karokar.test", "KAROKAR_NOTIFICATION_SMTP_MESSAGE_ID_DOMAIN": "karokar.test",
                "KAROKAR_NOTIFICATION_SMTP_TIMEOUT_MS": "1000", "KAROKAR_NOTIFICATION_LEASE_S": "9",
                "KAROKAR_NOTIFICATION_POLL_INTERVAL_MS": "50",
            ])
            var events: [String] = []
            for _ in 0..<10 { events.append(try await world.bookingRequested()) }
            // Wait until the process is in the middle of sending several of them.
            let inFlight = try await world.waitUntil(seconds: 30) {
                var ids: Set<String> = []
                for event in events {
                    for row in try await world.deliveries(of: event) where row.channel == "EMAIL" { ids.insert("<\(row.id)@karokar.test>") }
                }
                return world.smtp.attempts.filter(ids.contains).count >= 3
            }
            await process.killNow()
            #expect(inFlight, "the process never sent")
            let killedAt = Date()
            try world.smtp.behave("ok")

            let survivor = try await TestServer.start(pool: world.market.pool) { settings in
                NotificationWorld.senders(&settings, smtp: world.smtp, http: world.http)
                settings.notification.push = nil
                settings.notification.sms = nil
                settings.notification.lease = .seconds(9)
            }
            var emails: [NotificationWorld.Row] = []
            let allSent = try await world.waitUntil(seconds: 90) {
                emails = []
                for event in events { emails += try await world.deliveries(of: event).filter { $0.channel == "EMAIL" } }
                return emails.count == 20 && emails.allSatisfy { $0.status == "SENT" }
            }
            await survivor.stop()
            #expect(allSent, "\(emails.map(\.status))")
            // Each accepted once, under its delivery's Message-ID; the claimed ones waited for the lease.
            let accepted = world.smtp.messages.filter { $0.subject.hasPrefix("New booking request") }.map(\.messageId)
            #expect(accepted.count == 20 && Set(accepted) == Set(emails.map { "<\($0.id)@karokar.test>" }))
            #expect(emails.contains { $0.attempts >= 2 }, "no delivery was in flight in the killed process")
            print("kill -9: every e-mail sent \(String(format: "%.1f", Date().timeIntervalSince(killedAt))) s after the kill")
        }
    }
}
