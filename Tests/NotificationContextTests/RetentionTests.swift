import Foundation
import KaroKarKernel
import KaroKarServer
import KaroKarTestSupport
import Testing

/// Retention of deliveries, with the server's clock moved by the test: SENT and SKIPPED
/// deliveries, and in-app messages once read, are deleted once older than the period, in small
/// batches by the running sweep; FAILED deliveries and unread messages stay, and so does
/// anything younger.
@Suite(.serialized)
struct RetentionTests {
    @Test func oldDeliveriesThatAreDoneWithAreDeleted() async throws {
        let clock = ManualClock(Instant(Date()))
        try await NotificationWorld.run(clock: clock, { settings in
            settings.notification.push = nil
            settings.notification.sms = nil
            settings.notification.retention = .seconds(30 * 86_400)
            settings.notification.retentionSweepInterval = .milliseconds(100)
            settings.notification.retentionBatchSize = 2
        }) { world in
            // The admin's mailbox refuses for good (FAILED); the staff member's takes it (SENT).
            try world.smtp.behave("ok", recipients: [world.vendor.adminEmail: "reject"])
            var events: [String] = []
            for _ in 0..<3 { events.append(try await world.bookingRequested()) }
            func rows() async throws -> [NotificationWorld.Row] {
                var all: [NotificationWorld.Row] = []
                for event in events { all += try await world.deliveries(of: event) }
                return all
            }
            #expect(try await world.waitUntil {
                let all = try await rows()
                return all.count == 12 && all.allSatisfy { $0.status == "SENT" || $0.status == "FAILED" }
            })
            // The staff member read their in-app messages; the admin did not.
            let inApp = try await rows().filter { $0.channel == "IN_APP" && $0.recipient == world.staff.userID }
            for message in inApp {
                _ = try await world.notifications.markRead(.init(messageId: message.id), options: world.staff.callOptions)
            }
            // 29 days on: nothing is old enough.
            clock.advance(by: .seconds(29 * 86_400))
            try await Task.sleep(for: .milliseconds(600))
            #expect(try await rows().count == 12)

            // 31 days on: the staff member's sent e-mails and read messages go (6, in batches of
            // 2); the admin's FAILED e-mails and unread messages stay.
            clock.advance(by: .seconds(2 * 86_400))
            #expect(try await world.waitUntil { try await rows().count == 6 })
            let kept = try await rows()
            #expect(kept.allSatisfy { $0.recipient == world.vendor.admin.userID })
            #expect(Set(kept.map { "\($0.channel) \($0.status)" }) == ["EMAIL FAILED", "IN_APP SENT"])
        }
    }
}
