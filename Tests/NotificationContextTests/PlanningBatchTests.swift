import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarTestSupport
import Testing
@testable import NotificationContext

/// The batch writer of planned deliveries against the real schema: one statement for many rows,
/// text of any shape carried intact (quotes, backslashes, braces, commas, new lines, non-ASCII),
/// and unique per (event, recipient, channel): the same delivery twice in one batch, or again in
/// a later one (a redelivered event), is written once.
@Suite(.serialized)
struct PlanningBatchTests {
    /// A batch learns bookings from its events in one statement; what it learned before a
    /// `vehicle.suspended` in the same batch is written before that event's recipients are read:
    /// the open booking's corporate is told, the one cancelled earlier in the batch is not.
    @Test func aSuspensionSeesTheBookingsLearnedEarlierInItsBatch() async throws {
        try await NotificationWorld.run({ settings in
            settings.notification.sending = false
        }) { world in
            let corporate = try await world.market.onboard(.corporate)
            let bus = world.market.server.application.bus!
            func requested(_ booking: String, _ vehicle: String) -> EventDraft {
                var payload = EventsV1.BookingRequested()
                (payload.bookingId, payload.vehicleId, payload.vendorOrganizationId) = (booking, vehicle, world.vendor.id)
                (payload.corporateOrganizationId, payload.requestedBy) = (corporate.id, corporate.admin.userID)
                return EventDraft("booking.requested", aggregateType: "booking", aggregateID: booking, payload: .bookingRequested(payload))
            }
            func cancelled(_ booking: String, _ vehicle: String) -> EventDraft {
                var payload = EventsV1.BookingCancelled()
                (payload.bookingId, payload.vehicleId, payload.vendorOrganizationId) = (booking, vehicle, world.vendor.id)
                (payload.corporateOrganizationId, payload.previousStatus) = (corporate.id, .requested)
                return EventDraft("booking.cancelled", aggregateType: "booking", aggregateID: booking, payload: .bookingCancelled(payload))
            }
            func suspended(_ vehicle: String) -> EventDraft {
                var payload = EventsV1.VehicleSuspended()
                (payload.vehicleId, payload.organizationId, payload.suspensionId) = (vehicle, world.vendor.id, UUID.random().lowercasedString)
                return EventDraft("vehicle.suspended", aggregateType: "vehicle", aggregateID: vehicle, payload: .vehicleSuspended(payload))
            }
            let (open, closed) = (UUID.random().lowercasedString, UUID.random().lowercasedString)
            // One transaction: the log hands the planner these events in one batch.
            let (openSuspension, closedSuspension) = try await bus.transaction(.system()) { work in
                try await work.publish(requested(UUID.random().lowercasedString, open))
                let closedBooking = UUID.random().lowercasedString
                try await work.publish(requested(closedBooking, closed))
                try await work.publish(cancelled(closedBooking, closed))
                return (try await work.publish(suspended(open)).eventId, try await work.publish(suspended(closed)).eventId)
            }
            #expect(try await world.waitUntil {
                let (a, b) = (try await world.deliveries(of: openSuspension), try await world.deliveries(of: closedSuspension))
                return !a.isEmpty && !b.isEmpty
            })
            let told = Set(try await world.deliveries(of: openSuspension).map(\.recipient))
            #expect(told.contains(corporate.admin.userID), "the corporate with an open booking on the vehicle is told")
            #expect(told.contains(world.vendor.admin.userID))
            let toldOfClosed = Set(try await world.deliveries(of: closedSuspension).map(\.recipient))
            #expect(!toldOfClosed.contains(corporate.admin.userID), "a booking cancelled earlier in the batch is closed")
            #expect(toldOfClosed.contains(world.vendor.admin.userID))
        }
    }

    /// Three reachable recipients of one organization, named by `firstName(n)`.
    static func people(_ firstName: (Int) -> String) -> [RecipientFacts] {
        let organization = UUID.random()
        return (0..<3).map { n in
            RecipientFacts(
                userID: UUID.random(), organizationID: organization, firstName: firstName(n), lastName: "O'Neil, Jr.",
                email: "p\(n)@example.com", phone: nil, isReachable: true
            )
        }
    }

    /// One delivery of a booking request to `person`, titled after them.
    static func planned(
        _ event: UUID, _ person: RecipientFacts, _ channel: NotificationChannel, _ status: DeliveryStatus, lastError: String? = nil, body: String
    ) -> DeliveryStore.Planned {
        DeliveryStore.Planned(
            eventID: event, eventType: "booking.requested", recipient: person, channel: channel, template: "booking_requested",
            status: status, lastError: lastError, address: channel == .email ? person.email : "",
            title: "Title \(person.firstName)", body: body, shortBody: "short", subjectType: "booking", subjectID: "b-1"
        )
    }

    @Test func aBatchIsWrittenOnceWithItsTextIntact() async throws {
        try await NotificationWorld.run({ settings in
            settings.notification.sending = false
        }) { world in
            let bus = world.market.server.application.bus!
            let event = UUID.random()
            let people = Self.people { "Ä\"\\{\($0)}" }
            let body = "Line one, \"quoted\" \\ back {braces}\nLine two: ünïcode ✓\n.dot"
            func planned(_ person: RecipientFacts, _ channel: NotificationChannel, _ status: DeliveryStatus) -> DeliveryStore.Planned {
                Self.planned(event, person, channel, status, lastError: status == .skipped ? "opted out, {really}" : nil, body: body)
            }
            var rows: [DeliveryStore.Planned] = []
            for person in people {
                rows += [planned(person, .email, .pending), planned(person, .inApp, .sent), planned(person, .sms, .skipped)]
            }
            // The first person's e-mail twice in the batch.
            rows.append(planned(people[0], .email, .pending))
            _ = try await bus.transaction(.system()) { work in try await DeliveryStore.plan(rows, at: SystemClock().now(), lease: .seconds(60), work) }
            // Redelivered: a later batch writes nothing new.
            _ = try await bus.transaction(.system()) { work in
                try await DeliveryStore.plan(Array(rows.prefix(4)), at: SystemClock().now(), lease: .seconds(60), work)
            }

            let written = try await world.pool.query("""
                SELECT recipient_user_id, channel, status, last_error, next_attempt_at IS NOT NULL AS due, sent_at IS NOT NULL AS sent,
                       recipient_name, title, body
                FROM notification.deliveries WHERE event_id = \(event)
                """)
            #expect(written.count == 9)
            for row in written {
                let user = try row.decode(UUID.self, "recipient_user_id")
                let person = try #require(people.first { $0.userID == user })
                let status = try row.decode(String.self, "status")
                #expect(try row.decode(String.self, "body") == body)
                #expect(try row.decode(String.self, "title") == "Title \(person.firstName)")
                #expect(try row.decode(String.self, "recipient_name") == "\(person.firstName) \(person.lastName)")
                #expect(try row.decode(Bool.self, "due") == (status == "PENDING"))
                #expect(try row.decode(Bool.self, "sent") == (status == "SENT"))
                #expect(try row.decode(String?.self, "last_error") == (status == "SKIPPED" ? "opted out, {really}" : nil))
            }
        }
    }

    /// Direct dispatch's half in the database: leased rows are written as a claim leaves them,
    /// and only those actually written are handed back (a redelivered event's are not).
    @Test func leasedDeliveriesAreWrittenClaimedAndHandedBackOnlyWhenWritten() async throws {
        try await NotificationWorld.run({ settings in
            settings.notification.sending = false
        }) { world in
            let bus = world.market.server.application.bus!
            let event = UUID.random()
            let people = Self.people { "P\($0)" }
            let rows = people.enumerated().map { n, person in
                var row = Self.planned(event, person, .email, .pending, body: "B")
                row.leased = n < 2
                return row
            }
            let handed = try await bus.transaction(.system()) { work in
                try await DeliveryStore.plan(rows, at: SystemClock().now(), lease: .seconds(60), work)
            }
            #expect(Set(handed.map(\.recipientUserID)) == Set(people.prefix(2).map(\.userID)))
            #expect(handed.allSatisfy { delivery in
                delivery.attempt == 1 && delivery.lease == handed[0].lease
                    && delivery.recipientName == people.first { $0.userID == delivery.recipientUserID }.map { "\($0.firstName) \($0.lastName)" }
            })
            let written = try await world.pool.query("""
                SELECT id, recipient_user_id, attempts, lease,
                       next_attempt_at > clock_timestamp() + interval '50 seconds' AS leased_ahead, next_attempt_at <= clock_timestamp() AS due
                FROM notification.deliveries WHERE event_id = \(event)
                """)
            #expect(written.count == 3)
            for row in written {
                let user = try row.decode(UUID.self, "recipient_user_id")
                if let delivery = handed.first(where: { $0.recipientUserID == user }) {
                    #expect(try row.decode(UUID.self, "id") == delivery.id)
                    #expect(try row.decode(UUID?.self, "lease") == delivery.lease)
                    #expect(try row.decode(Int.self, "attempts") == 1)
                    #expect(try row.decode(Bool.self, "leased_ahead"), "due again only when the lease ends")
                } else {
                    #expect(try row.decode(UUID?.self, "lease") == nil)
                    #expect(try row.decode(Int.self, "attempts") == 0)
                    #expect(try row.decode(Bool.self, "due"), "the unleased one is claimed as before")
                }
            }
            // The event read again: nothing written, nothing handed over (a send would be a duplicate).
            let again = try await bus.transaction(.system()) { work in
                try await DeliveryStore.plan(rows, at: SystemClock().now(), lease: .seconds(60), work)
            }
            #expect(again.isEmpty)
        }
    }
}
