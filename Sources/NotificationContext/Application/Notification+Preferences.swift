import Foundation
import KaroKarKernel

/// A user's channel preferences: theirs alone (one set for all their organizations).
extension Notification {
    nonisolated func preferences(_ invocation: Invocation) async throws -> NotificationPreferences {
        let user = invocation.caller.principalID
        return try await bus.read(invocation) { work in
            try await DeliveryStore.preferences(of: user, forUpdate: false, work)
                ?? NotificationPreferences(userID: user, entries: [], version: 0, updatedAt: nil)
        }
    }

    /// Replaces the caller's preferences (validated by the RPC edge: patterns, no IN_APP opt-out,
    /// one entry per channel and pattern).
    nonisolated func setPreferences(_ entries: [ChannelPreference], expectedVersion: Int64?, _ invocation: Invocation) async throws -> NotificationPreferences {
        let user = invocation.caller.principalID
        return try await bus.mutation(invocation) { work in
            let current = try await DeliveryStore.preferences(of: user, forUpdate: true, work)
            try ExpectedVersion.check(expectedVersion, current?.version ?? 0, "notification preferences")
            return try await DeliveryStore.savePreferences(of: user, entries, work)
        }
    }
}
