import Foundation
import KaroKarKernel

/// The in-app inbox: the caller's own IN_APP deliveries for the organization they act for.
/// Another user's message answers NOT_FOUND, whoever asks (platform administrators included:
/// an inbox is personal).
extension Notification {
    nonisolated func inbox(unreadOnly: Bool, page: Page<TimeKey>, _ invocation: Invocation) async throws -> [InboxEntry] {
        let caller = invocation.caller
        return try await bus.read(invocation) { work in
            try await DeliveryStore.inbox(
                user: caller.principalID, organization: caller.organizationID, unreadOnly: unreadOnly, after: page.after,
                limit: page.fetchLimit, work
            )
        }
    }

    nonisolated func unreadCount(_ invocation: Invocation) async throws -> Int {
        let caller = invocation.caller
        return try await bus.read(invocation) { work in
            try await DeliveryStore.unreadCount(user: caller.principalID, organization: caller.organizationID, work)
        }
    }

    /// Marks one message read; reading a read message again changes nothing (idempotent).
    nonisolated func markRead(_ id: UUID, expectedVersion: Int64?, _ invocation: Invocation) async throws -> InboxEntry {
        let caller = invocation.caller
        return try await bus.mutation(invocation) { work in
            guard let entry = try await DeliveryStore.inboxEntry(id, user: caller.principalID, organization: caller.organizationID, forUpdate: true, work) else {
                throw DomainError.notFound("inbox message")
            }
            try ExpectedVersion.check(expectedVersion, entry.version, "inbox message")
            guard entry.readAt == nil else { return entry }
            return try await DeliveryStore.markRead(id, work)
        }
    }

    /// Marks read every unread message, up to `upTo` (included) when given; returns how many.
    nonisolated func markAllRead(upTo: UUID?, _ invocation: Invocation) async throws -> Int {
        let caller = invocation.caller
        return try await bus.mutation(invocation) { work in
            var key: TimeKey?
            if let upTo {
                guard let entry = try await DeliveryStore.inboxEntry(upTo, user: caller.principalID, organization: caller.organizationID, forUpdate: false, work) else {
                    throw DomainError.notFound("inbox message")
                }
                key = TimeKey(entry.createdAt, entry.id)
            }
            return try await DeliveryStore.markAllRead(user: caller.principalID, organization: caller.organizationID, upTo: key, work)
        }
    }
}
