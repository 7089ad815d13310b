import Foundation
import KaroKarKernel
import KaroKarPostgres
import KaroKarTestSupport
import Testing
@testable import NotificationContext

/// The handoff's bounds: room for at most its capacity, none while the table has a backlog
/// (new deliveries then queue behind it), oldest first, and a delivery that waited past half
/// its lease is dropped (it is claimed once the lease ends, never sent twice at once).
@Suite("Notification: the senders' handoff")
struct DeliveryHandoffTests {
    static func delivery(_ n: Int) -> OutgoingDelivery {
        OutgoingDelivery(
            id: UUID.random(), eventID: UUID.random(), eventType: "booking.requested", recipientUserID: UUID.random(), channel: .email,
            address: "p\(n)@example.com", recipientName: "P \(n)", title: "T", body: "B", shortBody: "S", attempt: 1, lease: UUID.random()
        )
    }

    @Test func roomOrderBacklogAndStaleDeliveries() {
        let handoff = DeliveryHandoff(capacity: 4, maximumWait: .seconds(30))
        #expect(handoff.room == 4)
        let first = (0..<3).map(Self.delivery)
        handoff.hand(first)
        #expect(handoff.room == 1 && handoff.waiting == 3)
        handoff.setBacklog(true)
        #expect(handoff.room == 0, "nothing is leased while the senders are behind")
        handoff.setBacklog(false)
        #expect(handoff.room == 1)
        #expect(handoff.take(2).map(\.id) == first.prefix(2).map(\.id), "oldest first")
        #expect(handoff.take(0).isEmpty)
        let later = (3..<5).map(Self.delivery)
        handoff.hand(later)
        // 31 s later: everything handed has waited past half a 60-s lease and is dropped.
        #expect(handoff.take(10, now: .now + .seconds(31)).isEmpty)
        #expect(handoff.waiting == 0 && handoff.room == 4)
        // Never past the capacity, whatever is handed over.
        #expect(handoff.hand((0..<6).map(Self.delivery)) == 2)
        #expect(handoff.waiting == 4 && handoff.room == 0)
    }

    /// Behind means a full claim of deliveries that had all been due for a while, not a full
    /// claim: deliveries written unleased a moment before (the handoff was full) fill a claim
    /// too, and taking that for a backlog kept every later delivery on the claimed path.
    @Test func behindIsAFullClaimOfLongDueDeliveries() async throws {
        try await NotificationWorld.run({ settings in
            settings.notification.sending = false  // nothing claims but the test
        }) { world in
            for _ in 0..<3 { try await world.bookingRequested() }  // two e-mails each
            let pending: SQL = "SELECT count(*)::int8 AS n FROM notification.deliveries WHERE channel = 'EMAIL' AND status = 'PENDING' AND event_type = 'booking.requested'"
            #expect(try await world.waitUntil { try await world.pool.query(pending).single().decode(Int.self, "n") == 6 })
            // Four due for 60 s, two due now; any other (the onboarding's) not due today. Behind
            // after 30 s: "now" stays fresh however slowly a machine running every suite gets on.
            try await world.pool.query("""
                UPDATE notification.deliveries SET next_attempt_at = clock_timestamp() + interval '1 day'
                WHERE status = 'PENDING' AND event_type <> 'booking.requested'
                """)
            try await world.pool.query("""
                UPDATE notification.deliveries SET next_attempt_at = clock_timestamp() - interval '60 seconds'
                WHERE id IN (SELECT id FROM notification.deliveries WHERE channel = 'EMAIL' AND event_type = 'booking.requested' ORDER BY id LIMIT 4)
                """)
            try await world.pool.query("""
                UPDATE notification.deliveries SET next_attempt_at = clock_timestamp()
                WHERE channel = 'EMAIL' AND event_type = 'booking.requested' AND next_attempt_at > clock_timestamp() - interval '30 seconds'
                """)
            var options = NotificationOptions()
            options.behindAfter = .seconds(30)
            let pool = world.pool
            func claim(_ limit: Int) async throws -> DeliveryStore.Claim {
                try await DeliveryStore.claim(limit: limit, lease: .seconds(60), channels: [.email], pool: pool)
            }
            let old = try await claim(3)
            #expect(old.deliveries.count == 3)
            #expect((old.freshestWait ?? .zero) >= .seconds(59), "\(String(describing: old.freshestWait))")
            #expect(options.isBehind(old, limit: 3), "full, and all due for 60 s")
            let mixed = try await claim(2)  // the last old one and the fresher of the new ones
            #expect(mixed.deliveries.count == 2 && (mixed.freshestWait ?? .seconds(99)) < .seconds(30))
            #expect(!options.isBehind(mixed, limit: 2), "full, but its freshest was due a moment ago")
            let rest = try await claim(4)
            #expect(rest.deliveries.count == 1 && !options.isBehind(rest, limit: 4), "short")
            let none = try await claim(4)
            #expect(none.deliveries.isEmpty && none.freshestWait == nil && !options.isBehind(none, limit: 4))
        }
    }
}
