import Foundation
import KaroKarPostgres
import KaroKarServer
import KaroKarTestSupport
import Testing

/// The senders free a slot once a message is sent and hand the delivery to the recorder, which
/// writes SENT in batches; while more than 8 x `notification-max-in-flight` sent deliveries wait
/// to be recorded (the database slower than the senders, here: its SENT updates held by a lock),
/// the senders claim nothing more, so the recorder's queue stays bounded. Once the database
/// answers again, every delivery is recorded and each e-mail was sent once.
@Suite("Notification: sending waits for the recording of what was sent")
struct SentRecordingBackpressureTests {
    static let inFlight = 2
    static let unrecordedLimit = 8 * inFlight

    @Test func sendersStopClaimingWhileSentDeliveriesWaitToBeRecorded() async throws {
        let sink = SMTPSink(subjectPrefix: "New booking request")
        try await NotificationWorld.run(sink: sink, { $0.notification.maximumInFlight = Self.inFlight }) { world in
            try await check(world, sink)
        }
    }

    func check(_ world: NotificationWorld, _ sink: SMTPSink) async throws {
        // Recording SENT waits while the test holds advisory lock 4242 (planning's in-app rows
        // are inserted SENT, not updated: they pass).
        try await world.pool.query("""
            CREATE FUNCTION notification.test_hold_sent() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.status = 'SENT' AND OLD.status = 'PENDING' THEN
                    PERFORM pg_advisory_xact_lock_shared(4242);
                END IF;
                RETURN NEW;
            END $$
            """)
        try await world.pool.query("""
            CREATE TRIGGER test_hold_sent BEFORE UPDATE ON notification.deliveries
                FOR EACH ROW EXECUTE FUNCTION notification.test_hold_sent()
            """)
        let events = 40  // two e-mails each (the vendor's admin and staff member)
        let sentWhileHeld = try await world.pool.withConnection { holder in
            _ = try await holder.query("SELECT pg_advisory_lock(4242)")
            do {
                for _ in 0..<events { _ = try await world.bookingRequested() }
                // Sending stops once the recorder's queue is over its limit: the count settles.
                // (Alone this takes a few seconds; under the whole suite's load, in one test
                // process with hundreds of others, a send can take a second or more.)
                var last = -1
                var stableSince = Date()
                let deadline = Date().addingTimeInterval(60)
                while Date() < deadline {
                    let now = sink.counts.matching
                    if now != last {
                        last = now
                        stableSince = Date()
                    } else if now > 0, Date().timeIntervalSince(stableSince) > 3 {
                        break
                    }
                    try await Task.sleep(for: .milliseconds(100))
                }
                _ = try await holder.query("SELECT pg_advisory_unlock(4242)")
                return last
            } catch {
                _ = try? await holder.query("SELECT pg_advisory_unlock(4242)")
                throw error
            }
        }
        // At most the limit, the one being written and the slots in flight (and a claim's worth
        // taken before the queue passed its limit); never all 80.
        #expect(sentWhileHeld > 0 && sentWhileHeld <= Self.unrecordedLimit + 1 + 3 * Self.inFlight, "\(sentWhileHeld) e-mails sent while SENT could not be written")
        // A correctness check, not a speed one: alone it settles in about a second, and under the
        // whole suite's load two senders got about one e-mail a second out (CI: 44 of 80 in 30 s).
        let settled = try await world.waitUntil(seconds: 150) { try await world.sentEmails(of: "booking.requested") == 2 * events }
        let rows = try await world.sentEmails(of: "booking.requested")
        #expect(settled, "\(rows) of \(2 * events) recorded SENT")
        let counts = sink.counts
        #expect(counts.matching == 2 * events && counts.distinctMessageIDs == 2 * events, "\(counts)")
    }
}
