import Foundation
import KaroKarKernel

/// Whether a user receives notifications on a channel for events matching a pattern (an event
/// name, a category `booking.*`, or `*`).
struct ChannelPreference: Sendable, Hashable, Codable {
    var channel: NotificationChannel
    var pattern: String
    var enabled: Bool
}

/// A user's preferences. Without a matching entry a channel is on; the most specific matching
/// pattern wins (the exact name, then the longest category, then `*`). In-app is always on.
struct NotificationPreferences: Sendable, Hashable, Codable {
    var userID: UUID
    var entries: [ChannelPreference]
    var version: Int64
    var updatedAt: Instant?

    static let maximumEntries = 100

    func allows(_ channel: NotificationChannel, for eventType: String) -> Bool {
        guard channel != .inApp else { return true }
        let matching = entries.filter { $0.channel == channel && Self.matches($0.pattern, eventType) }
        guard let best = matching.max(by: { Self.specificity($0.pattern) < Self.specificity($1.pattern) }) else { return true }
        return best.enabled
    }

    static func matches(_ pattern: String, _ eventType: String) -> Bool {
        if pattern == "*" || pattern == eventType { return true }
        guard pattern.hasSuffix(".*") else { return false }
        return eventType.hasPrefix(String(pattern.dropLast()))
    }

    /// `*` < `a.*` < `a.b.*` < `a.b`.
    static func specificity(_ pattern: String) -> Int {
        if pattern == "*" { return 0 }
        return pattern.hasSuffix(".*") ? pattern.count : 10_000
    }

    /// `a.b`, `a.*` or `*`: lower-case segments of letters, digits and underscores.
    static func isPattern(_ text: String) -> Bool {
        text == "*" || (text.utf8.count <= 100
            && text.range(of: "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*(\\.\\*)?$", options: .regularExpression) != nil)
    }
}
