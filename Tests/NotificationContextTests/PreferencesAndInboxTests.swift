import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// Preferences honoured (an opted-out channel is SKIPPED, in-app always on), the inbox paged and
/// marked read, and one user's inbox and deliveries NOT_FOUND to another.
@Suite(.serialized)
struct PreferencesAndInboxTests {
    @Test func anOptedOutChannelIsSkippedAndInAppStaysOn() async throws {
        try await NotificationWorld.run { world in
            let notifications = world.notifications
            // In-app cannot be turned off; malformed patterns and duplicates are refused.
            for bad in [
                [NotificationV1.ChannelPreference(channel: .inApp, eventTypePattern: "*", enabled: false)],
                [NotificationV1.ChannelPreference(channel: .email, eventTypePattern: "Booking.*", enabled: false)],
                [NotificationV1.ChannelPreference(channel: .unspecified, eventTypePattern: "*", enabled: false)],
                Array(repeating: NotificationV1.ChannelPreference(channel: .email, eventTypePattern: "*", enabled: false), count: 2),
            ] {
                await #expect(throws: RPCError.self) {
                    _ = try await notifications.setPreferences(.init(preferences: bad), options: world.staff.callOptions)
                }
            }
            #expect(try await notifications.getPreferences(.init(), options: world.staff.callOptions).preferences?.version == 0)
            // E-mail off for bookings, but on for requests (the most specific wins); push off everywhere.
            let set = try await notifications.setPreferences(.init(preferences: [
                .init(channel: .email, eventTypePattern: "booking.*", enabled: false),
                .init(channel: .push, eventTypePattern: "*", enabled: false),
            ]), options: world.staff.callOptions).preferences!
            #expect(set.version == 1 && set.preferences.count == 2 && set.userId == world.staff.userID)
            // A stale version is refused.
            await #expect(throws: RPCError.self) {
                _ = try await notifications.setPreferences(.init(preferences: [], expectedVersion: .init(value: 0)), options: world.staff.callOptions)
            }

            let event = try await world.bookingRequested()
            #expect(try await world.waitUntil { try await world.deliveries(of: event).count == 6 })
            let rows = try await world.deliveries(of: event)
            let staff = rows.filter { $0.recipient == world.staff.userID }
            #expect(staff.first { $0.channel == "EMAIL" }?.status == "SKIPPED")
            #expect(staff.first { $0.channel == "EMAIL" }?.lastError?.contains("opted out") == true)
            #expect(staff.first { $0.channel == "PUSH" }?.status == "SKIPPED")
            #expect(staff.first { $0.channel == "IN_APP" }?.status == "SENT")
            // The admin chose nothing: everything goes.
            #expect(try await world.waitUntil {
                try await world.deliveries(of: event).filter { $0.recipient == world.vendor.admin.userID }.allSatisfy { $0.status == "SENT" }
            })
            let staffEmail = try await world.email(of: world.staff.userID)
            #expect(!world.smtp.messages.contains { $0.to == [staffEmail] && $0.subject.hasPrefix("New booking request") })

            // The user sees their own deliveries, SKIPPED ones with their reason.
            let own = try await notifications.listDeliveries(.init(eventType: "booking.requested"), options: world.staff.callOptions)
            #expect(own.deliveries.count == 3 && own.deliveries.allSatisfy { $0.recipientUserId == world.staff.userID })
            #expect(own.deliveries.filter { $0.status == .skipped }.count == 2)
        }
    }

    @Test func theInboxPagesAndIsPersonal() async throws {
        try await NotificationWorld.run { world in
            let notifications = world.notifications
            var events: [String] = []
            for _ in 0..<5 { events.append(try await world.bookingRequested()) }
            #expect(try await world.waitUntil {
                try await notifications.getUnreadCount(.init(), options: world.staff.callOptions).unreadCount == 5
            })
            // Pages of two, newest first, each message once.
            var seen: [NotificationV1.InboxMessage] = []
            var token = ""
            var pages = 0
            repeat {
                let page = try await notifications.listInbox(
                    .init(page: .init(pageSize: 2, pageToken: token)), options: world.staff.callOptions
                )
                seen += page.messages
                token = page.page?.nextPageToken ?? ""
                pages += 1
            } while !token.isEmpty && pages < 10
            #expect(pages == 3 && seen.count == 5 && Set(seen.map(\.id)).count == 5)
            #expect(Set(seen.map(\.eventId)) == Set(events))
            #expect(zip(seen, seen.dropFirst()).allSatisfy { ($0.createdAt?.seconds ?? 0, $0.createdAt?.nanos ?? 0) >= ($1.createdAt?.seconds ?? 0, $1.createdAt?.nanos ?? 0) })

            // Another user (the vendor's own admin, the platform administrator) cannot read or
            // mark it, nor list the staff member's deliveries.
            let target = seen[0].id
            for other in [world.vendor.admin, world.platform] {
                await expectNotFound { _ = try await notifications.markRead(.init(messageId: target), options: other.callOptions) }
                #expect(try await notifications.listInbox(.init(), options: other.callOptions).messages.allSatisfy { $0.id != target })
            }
            await expectNotFound {
                _ = try await notifications.listDeliveries(.init(recipientUserId: world.staff.userID), options: world.vendor.admin.callOptions)
            }
            await expectNotFound {
                _ = try await notifications.listDeliveries(.init(allRecipients: true), options: world.vendor.admin.callOptions)
            }
            // A platform administrator reads anyone's deliveries.
            let theirs = try await notifications.listDeliveries(.init(recipientUserId: world.staff.userID), options: world.platform.callOptions)
            #expect(theirs.deliveries.count >= 5 && theirs.deliveries.allSatisfy { $0.recipientUserId == world.staff.userID })

            // Mark one read (twice: idempotent), then all up to the second newest.
            let read = try await notifications.markRead(.init(messageId: seen[2].id), options: world.staff.callOptions).inboxMessage!
            #expect(read.readAt != nil && read.version == seen[2].version + 1)
            let again = try await notifications.markRead(.init(messageId: seen[2].id), options: world.staff.callOptions).inboxMessage!
            #expect(again.version == read.version)
            await #expect(throws: RPCError.self) {
                _ = try await notifications.markRead(.init(messageId: seen[3].id, expectedVersion: .init(value: 99)), options: world.staff.callOptions)
            }
            #expect(try await notifications.getUnreadCount(.init(), options: world.staff.callOptions).unreadCount == 4)
            let marked = try await notifications.markAllRead(.init(upToMessageId: seen[1].id), options: world.staff.callOptions)
            #expect(marked.markedCount == 3)
            let unread = try await notifications.listInbox(.init(unreadOnly: true), options: world.staff.callOptions).messages
            #expect(unread.map(\.id) == [seen[0].id])
            #expect(try await notifications.markAllRead(.init(), options: world.staff.callOptions).markedCount == 1)
            #expect(try await notifications.getUnreadCount(.init(), options: world.staff.callOptions).unreadCount == 0)
            // Malformed ids and tokens are refused.
            await #expect(throws: RPCError.self) {
                _ = try await notifications.markRead(.init(messageId: "not-a-uuid"), options: world.staff.callOptions)
            }
            await #expect(throws: RPCError.self) {
                _ = try await notifications.listInbox(.init(page: .init(pageSize: 2, pageToken: "forged")), options: world.staff.callOptions)
            }
        }
    }
}

func expectNotFound(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async {
    do {
        try await body()
        Issue.record("expected NOT_FOUND", sourceLocation: sourceLocation)
    } catch let error as RPCError {
        #expect(error.code == .notFound, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("\(error)", sourceLocation: sourceLocation)
    }
}
