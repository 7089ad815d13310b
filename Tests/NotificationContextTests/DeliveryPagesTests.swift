import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarTestSupport
import Testing
@testable import NotificationContext

/// Notification migration 4: deliveries' pages keep room for their rows' SENT updates, so the new
/// version of a sent e-mail stays on its page (PostgreSQL then writes only the changed bytes to
/// the WAL, not the whole rendered row again). At fillfactor 100 the pages were full when the
/// SENT came and nearly every e-mail row moved to another page.
@Suite(.serialized)
struct DeliveryPagesTests {
    @Test func aSentEMailStaysOnThePageItWasPlannedOn() async throws {
        try await NotificationWorld.run({ settings in
            settings.notification.push = nil  // in-app and e-mail only, as in the benchmark
            // Each e-mail sent once, on the lease planning wrote it with: a handed delivery waits
            // up to half its lease for a sender, and the world's 1.5-s SMTP timeout and 10-s
            // lease are for its failure tests. With every suite running, the recorder's replies
            // took longer and e-mails were sent again (a claim, then SENT: two more row versions
            // on the page), which is not what this measures.
            settings.notification.smtp?.timeout = .seconds(60)
            settings.notification.lease = .seconds(300)
        }) { world in
            let bus = world.market.server.application.bus!
            let events = 200
            // Two recipients each (the vendor's admin and staff member): in-app and e-mail.
            try await bus.transaction(.system()) { work in
                for _ in 0..<events {
                    var payload = EventsV1.BookingRequested()
                    let booking = UUID.random().lowercasedString
                    (payload.bookingId, payload.vehicleId, payload.vendorOrganizationId) = (booking, UUID.random().lowercasedString, world.vendor.id)
                    (payload.corporateOrganizationId, payload.requestedBy) = (UUID.random().lowercasedString, UUID.random().lowercasedString)
                    payload.period = .init(start: .init(seconds: 1_814_400_000), end: .init(seconds: 1_814_486_400))
                    try await work.publish(EventDraft("booking.requested", aggregateType: "booking", aggregateID: booking, payload: .bookingRequested(payload)))
                }
            }
            let emails = events * 2
            #expect(try await world.waitUntil {
                try await world.pool.query("""
                    SELECT count(*)::int8 AS n FROM notification.deliveries
                    WHERE channel = 'EMAIL' AND status = 'SENT' AND event_type = 'booking.requested'
                    """).single().decode(Int.self, "n") == emails
            })
            // Each sent e-mail's row against its recipient's in-app row of the same event, planned
            // in the same statement: on the same page unless the SENT update had to move it.
            // Only e-mails sent on their first attempt: a retried one was claimed again (one
            // more version of its row) before it was sent, which no fillfactor provides for.
            let pages = try await world.pool.query("""
                SELECT count(*)::int8 AS emails, count(*) FILTER (WHERE e.attempts = 1)::int8 AS once,
                       count(*) FILTER (WHERE e.attempts = 1 AND (e.ctid::text::point)[0] = (i.ctid::text::point)[0])::int8 AS kept
                FROM notification.deliveries AS e
                JOIN notification.deliveries AS i ON i.event_id = e.event_id AND i.recipient_user_id = e.recipient_user_id AND i.channel = 'IN_APP'
                WHERE e.channel = 'EMAIL' AND e.status = 'SENT' AND e.event_type = 'booking.requested'
                """).single()
            let (kept, once) = (try pages.decode(Int.self, "kept"), try pages.decode(Int.self, "once"))
            #expect(try pages.decode(Int.self, "emails") == emails)
            #expect(once * 10 >= emails * 9, "\(once) of \(emails) e-mails sent on their first attempt")
            #expect(kept * 10 >= once * 9, "\(kept) of \(once) e-mails sent on their first attempt stayed on their page")
        }
    }
}
