import Foundation
import KaroKarKernel
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
        #expect(handoff.room == 0, "nothing is leased while claims come back full")
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
}
