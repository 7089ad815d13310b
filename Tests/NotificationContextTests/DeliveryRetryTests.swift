import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// The SMTP server refusing, timing out and closing mid-message: deliveries retry with backoff
/// and end SENT when it recovers, or FAILED after the limit with the last error; a failing
/// recipient does not hold back the others.
@Suite(.serialized)
struct DeliveryRetryTests {
    @Test(arguments: ["refuse", "hang", "close"])
    func aFailingServerIsRetriedUntilItRecovers(mode: String) async throws {
        try await NotificationWorld.run { world in
            try world.smtp.behave(mode)
            let event = try await world.bookingRequested()
            func emails() async throws -> [NotificationWorld.Row] { try await world.deliveries(of: event).filter { $0.channel == "EMAIL" } }
            // At least two attempts failed (and were retried), the error kept.
            #expect(try await world.waitUntil {
                let rows = try await emails()
                return rows.count == 2 && rows.allSatisfy { $0.attempts >= 2 }
            })
            let failing = try await emails()
            #expect(failing.allSatisfy { $0.status == "PENDING" && $0.lastError != nil })
            let error = failing.first?.lastError ?? ""
            switch mode {
            case "refuse": #expect(error.contains("451"))
            case "hang": #expect(error.contains("did not answer"))
            default: #expect(error.contains("closed"))
            }
            try world.smtp.behave("ok")
            #expect(try await world.waitUntil { try await emails().allSatisfy { $0.status == "SENT" && $0.lastError == nil } })
            // Each delivery's Message-ID stays the same over its attempts.
            let ids = Set(try await emails().map { "<\($0.id)@karokar.test>" })
            let accepted = world.smtp.messages.filter { $0.subject.hasPrefix("New booking request") }.map(\.messageId)
            #expect(accepted.count == 2 && Set(accepted) == ids)
            if mode != "refuse" {
                // Failed attempts reached DATA with the Message-IDs the accepted messages carry.
                #expect(world.smtp.attempts.filter(ids.contains).count >= 4)
            }
        }
    }

    /// Recording SENT finds a delivery by id and lease alone (DeliveryStore.sent), which is right
    /// only because a lease is never held by a delivery that is not PENDING: the table refuses it.
    @Test func onlyAPendingDeliveryHoldsALease() async throws {
        try await NotificationWorld.run { world in
            let event = try await world.bookingRequested()
            #expect(try await world.waitUntil {
                let emails = try await world.deliveries(of: event).filter { $0.channel == "EMAIL" }
                return emails.count == 2 && emails.allSatisfy { $0.status == "SENT" }
            })
            let leases = try await world.pool.query("""
                SELECT count(*)::int8 AS n FROM notification.deliveries WHERE lease IS NOT NULL AND status <> 'PENDING'
                """).single().decode(Int.self, "n")
            #expect(leases == 0)
            let refused = await #expect(throws: (any Error).self) {
                try await world.pool.query("""
                    UPDATE notification.deliveries SET lease = \(UUID.random())::uuid WHERE event_id = \(UUID(uuidString: event)!) AND status = 'SENT'
                    """)
            }
            #expect(String(describing: refused).contains("delivery_lease_only_pending"), "\(String(describing: refused))")
        }
    }

    @Test func aDeliveryFailsAfterTheLimitWithoutHoldingBackOthers() async throws {
        try await NotificationWorld.run { world in
            let adminEmail = world.vendor.adminEmail
            let staffEmail = try await world.email(of: world.staff.userID)
            // The admin's mailbox hangs forever; the staff member's works.
            try world.smtp.behave("ok", recipients: [adminEmail: "hang"])
            let started = Date()
            let event = try await world.bookingRequested()
            #expect(try await world.waitUntil { world.smtp.messages.contains { $0.to == [staffEmail] } })
            // Not delayed by the hanging one (whose attempts each take the 1.5 s timeout).
            #expect(Date().timeIntervalSince(started) < 5)
            #expect(try await world.waitUntil(seconds: 90) {
                try await world.deliveries(of: event).first { $0.recipient == world.vendor.admin.userID && $0.channel == "EMAIL" }?.status == "FAILED"
            })
            let failed = try #require(try await world.deliveries(of: event).first { $0.recipient == world.vendor.admin.userID && $0.channel == "EMAIL" })
            #expect(failed.attempts == 5 && failed.lastError?.contains("did not answer") == true)

            // The operator sees it, retries it once the mailbox works, and it is sent.
            let listed = try await world.notifications.listDeliveries(
                .init(statuses: [.failed], channel: .email, allRecipients: true), options: world.platform.callOptions
            )
            #expect(listed.deliveries.map(\.id) == [failed.id])
            #expect(listed.deliveries.first?.lastError?.value.contains("did not answer") == true)
            try world.smtp.behave("ok")
            let retried = try await world.notifications.retryDelivery(.init(deliveryId: failed.id), options: world.platform.callOptions)
            #expect(retried.delivery?.status == .pending && retried.delivery?.attempts == 0)
            #expect(try await world.waitUntil {
                try await world.deliveries(of: event).first { $0.id == failed.id }?.status == "SENT"
            })
            // Retrying what is not FAILED is refused; a vendor admin cannot retry at all.
            await #expect(throws: RPCError.self) {
                _ = try await world.notifications.retryDelivery(.init(deliveryId: failed.id), options: world.platform.callOptions)
            }
            do {
                _ = try await world.notifications.retryDelivery(.init(deliveryId: failed.id), options: world.vendor.admin.callOptions)
                Issue.record("a vendor admin retried a delivery")
            } catch let error as RPCError {
                #expect(error.code == .permissionDenied || error.code == .notFound)
            }
        }
    }

    @Test func aPermanentRefusalFailsAtOnce() async throws {
        try await NotificationWorld.run { world in
            let adminEmail = world.vendor.adminEmail
            try world.smtp.behave("ok", recipients: [adminEmail: "reject"])
            let event = try await world.bookingRequested()
            #expect(try await world.waitUntil {
                try await world.deliveries(of: event).first { $0.recipient == world.vendor.admin.userID && $0.channel == "EMAIL" }?.status == "FAILED"
            })
            let failed = try #require(try await world.deliveries(of: event).first { $0.recipient == world.vendor.admin.userID && $0.channel == "EMAIL" })
            #expect(failed.attempts == 1 && failed.lastError?.contains("550") == true)
        }
    }
}
