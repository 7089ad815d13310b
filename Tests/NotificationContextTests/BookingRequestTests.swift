import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// The whole path, as people live it: a corporate submits a booking over TCP; the vendor's admin
/// and staff get the e-mail (through a real SMTP server), the push (through a real HTTP server)
/// and the in-app message, with the rendered template; the requester hears of the approval.
@Suite(.serialized)
struct BookingRequestTests {
    @Test func aBookingRequestReachesTheVendorsAdminsAndStaff() async throws {
        try await NotificationWorld.run { world in
            let market = world.market
            let fleet = FleetV1.FleetService.Client(market.client)
            let vehicle = try await fleet.registerVehicle(.init(
                ownershipType: .vendorOwned, make: "Tata", model: "Nexon", year: 2024, licensePlate: "KA\(UUID().uuidString.prefix(8))"
            ), options: world.vendor.admin.callOptions).vehicle!
            try await market.verifyVehicle(vehicle.id, owner: world.vendor.admin)
            _ = try await fleet.activateVehicle(.init(vehicleId: vehicle.id), options: world.vendor.admin.callOptions)
            let corporate = try await market.onboard(.corporate)
            let bookings = BookingV1.BookingService.Client(market.client)
            let period = CommonV1.Period(start: .init(seconds: 1_814_400_000), end: .init(seconds: 1_814_400_000 + 2 * 86_400))
            let draft = try await bookings.createBooking(.init(vehicleId: vehicle.id, period: period), options: corporate.admin.callOptions).booking!
            _ = try await bookings.submitBooking(.init(bookingId: draft.id), options: corporate.admin.callOptions)

            let adminEmail = world.vendor.adminEmail
            let staffEmail = try await world.email(of: world.staff.userID)
            let subject = "New booking request for vehicle \(vehicle.id)"
            func requests() -> [SMTPRecorder.Message] { world.smtp.messages.filter { $0.subject == subject } }
            #expect(try await world.waitUntil { requests().count == 2 })
            let received = requests()
            #expect(Set(received.flatMap(\.to)) == [adminEmail, staffEmail])
            for message in received {
                #expect(message.from == "notifications@karokar.test")
                #expect(message.body.contains("A corporate customer asks to book vehicle \(vehicle.id) for 2027-07-01 00:00 UTC to 2027-07-03 00:00 UTC."))
                #expect(message.body.contains("Booking: \(draft.id)"))
                #expect(message.messageId.hasSuffix("@karokar.test>"))
            }
            // Greeted by name: the admin registered as Asha, the staff member was created as Ravi.
            #expect(received.first { $0.to == [adminEmail] }?.body.hasPrefix("Hello Asha,") == true)
            #expect(received.first { $0.to == [staffEmail] }?.body.hasPrefix("Hello Ravi,") == true)

            // The Message-ID is the delivery's id; each delivery is SENT once.
            let event = try await market.pool.query("""
                SELECT event_id FROM karokar_events.outbox WHERE event_type = 'booking.requested' AND aggregate_id = \(draft.id)
                """).single().decode(UUID.self, "event_id").uuidString.lowercased()
            #expect(try await world.waitUntil { try await world.deliveries(of: event).allSatisfy { $0.status == "SENT" } })
            let rows = try await world.deliveries(of: event)
            #expect(rows.count == 6)  // two people × e-mail, push, in-app (no SMS for requests)
            let emailIDs = Set(rows.filter { $0.channel == "EMAIL" }.map { "<\($0.id)@karokar.test>" })
            #expect(emailIDs == Set(received.map(\.messageId)))
            // The short text is kept only where it is sent (push and SMS), not on e-mail or in-app rows.
            let shortTexts = try await market.pool.query("""
                SELECT channel, short_body FROM notification.deliveries WHERE event_id = \(event)::uuid
                """).map { (try $0.decode(String.self, "channel"), try $0.decode(String.self, "short_body")) }
            #expect(shortTexts.count == 6)
            #expect(shortTexts.allSatisfy { $0.0 == "PUSH" ? $0.1.contains("new booking request \(draft.id)") : $0.1.isEmpty })

            // Push through the HTTP endpoint, with the bearer token and the delivery as the idempotency key.
            #expect(try await world.waitUntil { world.http.requests.filter { $0.uri == "/push" }.count >= 2 })
            let pushes = world.http.requests.filter { $0.uri == "/push" }
            #expect(pushes.allSatisfy { $0.headers["authorization"].first == "Bearer push-token" })
            let pushIDs = Set(rows.filter { $0.channel == "PUSH" }.map(\.id))
            #expect(Set(pushes.compactMap { $0.headers["idempotency-key"].first }).isSuperset(of: pushIDs))
            let pushBody = try JSONSerialization.jsonObject(with: Data(pushes.last!.body)) as? [String: Any]
            #expect((pushBody?["text"] as? String)?.contains("new booking request \(draft.id)") == true)

            // In-app: the staff member's inbox has it, unread.
            let inbox = try await world.notifications.listInbox(.init(), options: world.staff.callOptions)
            let message = try #require(inbox.messages.first { $0.eventType == "booking.requested" })
            #expect(message.title == subject && message.subjectType == "booking" && message.subjectId == draft.id && message.readAt == nil)
            #expect(message.body.contains("Hello Ravi,"))

            // The vendor approves: the requester (the corporate's admin) hears of it.
            _ = try await bookings.approveBooking(.init(bookingId: draft.id), options: world.vendor.admin.callOptions)
            #expect(try await world.waitUntil {
                world.smtp.messages.contains { $0.subject == "Your booking \(draft.id) was approved" && $0.to == [corporate.adminEmail] }
            })
        }
    }
}
