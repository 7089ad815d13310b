import Foundation
import KaroKarPostgres
import KaroKarServer
import KaroKarTestSupport
import Testing

/// Direct dispatch (``DeliveryHandoff``): planning writes its e-mail deliveries leased to this
/// process's senders and hands them over at commit, so they are sent without waiting for a
/// claim; what does not fit the handoff is claimed as before, and each message still goes out
/// once.
@Suite("Notification: planned deliveries are handed to the senders at commit")
struct DirectDispatchTests {
    @Test func sentAtOnceWithoutWaitingForAClaim() async throws {
        let sink = SMTPSink(subjectPrefix: "New booking request")
        // The senders claim once at start, then only every 60 s: an e-mail that needed a claim
        // would wait for it (the onboarding's own, before the test starts, too).
        // A lease of 60 s: a handed delivery stays in the handoff for half of it (30 s) before it
        // is dropped for a claim, however slowly a machine running every suite gets to it.
        try await NotificationWorld.run(sink: sink, { settings in
            settings.notification.pollInterval = .seconds(60)
            settings.notification.lease = .seconds(60)
        }) { world in
            let events = 10  // two e-mails each (the vendor's admin and staff member)
            let started = ContinuousClock.now
            for _ in 0..<events { _ = try await world.bookingRequested() }
            let sent = try await world.waitUntil(seconds: 45) { try await world.sentEmails(of: "booking.requested") == 2 * events }
            let recorded = try await world.sentEmails(of: "booking.requested")
            #expect(sent, "\(recorded) of \(2 * events) sent")
            #expect(ContinuousClock.now - started < .seconds(50), "no claim's poll interval (60 s) waited for")
            let counts = sink.counts
            #expect(counts.matching == 2 * events && counts.distinctMessageIDs == 2 * events, "\(counts)")
            #expect(try await world.pool.query("""
                SELECT count(*)::int8 AS n FROM notification.deliveries
                WHERE channel = 'EMAIL' AND event_type = 'booking.requested' AND attempts = 1 AND lease IS NULL AND status = 'SENT'
                """).single().decode(Int.self, "n") == 2 * events, "one attempt each, lease released")
        }
    }

    @Test func whatDoesNotFitTheHandoffIsClaimedAndEachMessageGoesOutOnce() async throws {
        let sink = SMTPSink(subjectPrefix: "New booking request")
        try await NotificationWorld.run(sink: sink, { settings in
            settings.notification.handoffCapacity = 1
            settings.notification.maximumInFlight = 2
        }) { world in
            let events = 30
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 {
                    group.addTask { for _ in 0..<(events / 3) { _ = try await world.bookingRequested() } }
                }
                try await group.waitForAll()
            }
            // Correctness, not speed: two in flight on a machine running every suite at once sent
            // about one a second (31 of 60 in 30 s on a CI run); the wait ends when all are sent.
            let sent = try await world.waitUntil(seconds: 120) { try await world.sentEmails(of: "booking.requested") == 2 * events }
            let recorded = try await world.sentEmails(of: "booking.requested")
            #expect(sent, "\(recorded) of \(2 * events) sent")
            try await Task.sleep(for: .milliseconds(300))  // a duplicate send would show by now
            let counts = sink.counts
            #expect(counts.matching == 2 * events && counts.distinctMessageIDs == 2 * events, "\(counts)")
        }
    }

    @Test func claimsStillRunWhileHandoffsKeepTheLoopAwake() async throws {
        let sink = SMTPSink(subjectPrefix: "New booking request")
        try await NotificationWorld.run(sink: sink, { settings in
            settings.notification.handoffCapacity = 1
            settings.notification.pollInterval = .milliseconds(300)
        }) { world in
            // A burst: all but one of its e-mails miss the handoff and wait in the table for a claim.
            var burst: [String] = []
            for _ in 0..<10 { burst.append(try await world.bookingRequested()) }
            // Meanwhile planning keeps handing deliveries over, waking the senders' loop more
            // often than the poll interval: the claims must still come round.
            let publishing = Task {
                while !Task.isCancelled {
                    _ = try? await world.bookingRequested()
                    try? await Task.sleep(for: .milliseconds(40))
                }
            }
            let sent = try await world.waitUntil(seconds: 60) {
                var emails: [NotificationWorld.Row] = []
                for event in burst { emails += try await world.deliveries(of: event).filter { $0.channel == "EMAIL" } }
                return emails.count == 20 && emails.allSatisfy { $0.status == "SENT" }
            }
            publishing.cancel()
            await publishing.value
            #expect(sent, "the burst's e-mails were sent while new ones kept being handed over")
        }
    }
}
