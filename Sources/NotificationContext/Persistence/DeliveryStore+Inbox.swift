import Foundation
import KaroKarKernel
import KaroKarPostgres

/// SQL <-> the inbox (in-app deliveries) and users' preferences.
extension DeliveryStore {
    // MARK: - Inbox

    static let inboxColumns = SQLFragment(
        "id, event_id, event_type, organization_id, title, body, subject_type, subject_id, created_at, read_at, version"
    )

    static func inboxEntry(_ row: PostgresRow) throws -> InboxEntry {
        InboxEntry(
            id: try row.decode(UUID.self, "id"), eventID: try row.decode(UUID.self, "event_id"),
            eventType: try row.decode(String.self, "event_type"), organizationID: try row.decode(UUID.self, "organization_id"),
            title: try row.decode(String.self, "title"), body: try row.decode(String.self, "body"),
            subjectType: try row.decode(String.self, "subject_type"), subjectID: try row.decode(String.self, "subject_id"),
            createdAt: Instant(try row.decode(PostgresTimestamp.self, "created_at")),
            readAt: try row.decode(PostgresTimestamp?.self, "read_at").map(Instant.init), version: try row.decode(Int64.self, "version")
        )
    }

    static func inbox(
        user: UUID, organization: UUID, unreadOnly: Bool, after key: TimeKey?, limit: Int, _ work: UnitOfWork
    ) async throws -> [InboxEntry] {
        try await work.query("""
            SELECT \(inboxColumns) FROM notification.deliveries
            WHERE recipient_user_id = \(user) AND organization_id = \(organization) AND channel = 'IN_APP' AND status = 'SENT'
              AND (NOT \(unreadOnly)::boolean OR read_at IS NULL)
              AND (\(key?.time.postgres)::timestamptz IS NULL OR (created_at, id) < (\(key?.time.postgres)::timestamptz, \(key?.id)::uuid))
            ORDER BY created_at DESC, id DESC LIMIT \(limit)
            """).map(inboxEntry)
    }

    static func unreadCount(user: UUID, organization: UUID, _ work: UnitOfWork) async throws -> Int {
        try await work.query("""
            SELECT count(*)::int8 AS unread FROM notification.deliveries
            WHERE recipient_user_id = \(user) AND organization_id = \(organization) AND channel = 'IN_APP' AND status = 'SENT'
              AND read_at IS NULL
            """).single().decode(Int.self, "unread")
    }

    static func inboxEntry(_ id: UUID, user: UUID, organization: UUID, forUpdate: Bool, _ work: UnitOfWork) async throws -> InboxEntry? {
        let lock = forUpdate ? SQLFragment("FOR UPDATE") : SQLFragment("")
        return try await work.query("""
            SELECT \(inboxColumns) FROM notification.deliveries
            WHERE id = \(id) AND recipient_user_id = \(user) AND organization_id = \(organization) AND channel = 'IN_APP' AND status = 'SENT'
            \(lock)
            """).first(where: { _ in true }).map(inboxEntry)
    }

    static func markRead(_ id: UUID, _ work: UnitOfWork) async throws -> InboxEntry {
        try inboxEntry(try await work.query("""
            UPDATE notification.deliveries SET read_at = clock_timestamp(), version = version + 1
            WHERE id = \(id) AND read_at IS NULL
            RETURNING \(inboxColumns)
            """).single())
    }

    /// Marks read every unread in-app message of the user in the organization, up to `upTo`
    /// (`created_at, id`) when given; returns how many.
    static func markAllRead(user: UUID, organization: UUID, upTo: TimeKey?, _ work: UnitOfWork) async throws -> Int {
        try await work.query("""
            UPDATE notification.deliveries SET read_at = clock_timestamp(), version = version + 1
            WHERE recipient_user_id = \(user) AND organization_id = \(organization) AND channel = 'IN_APP' AND status = 'SENT'
              AND read_at IS NULL
              AND (\(upTo?.time.postgres)::timestamptz IS NULL OR (created_at, id) <= (\(upTo?.time.postgres)::timestamptz, \(upTo?.id)::uuid))
            """).affectedRows
    }

    // MARK: - Preferences

    static func preferences(of users: [UUID], _ work: UnitOfWork) async throws -> [UUID: NotificationPreferences] {
        guard !users.isEmpty else { return [:] }
        var found: [UUID: NotificationPreferences] = [:]
        for row in try await work.query("""
            SELECT user_id, entries::text AS entries, version, updated_at FROM notification.preferences WHERE user_id = ANY (\(users)::uuid[])
            """) {
            let preferences = try preferences(row)
            found[preferences.userID] = preferences
        }
        return found
    }

    static func preferences(_ row: PostgresRow) throws -> NotificationPreferences {
        let entries = try JSONDecoder().decode([ChannelPreference].self, from: Data(try row.decode(String.self, "entries").utf8))
        return NotificationPreferences(
            userID: try row.decode(UUID.self, "user_id"), entries: entries, version: try row.decode(Int64.self, "version"),
            updatedAt: Instant(try row.decode(PostgresTimestamp.self, "updated_at"))
        )
    }

    /// The user's preferences, locked for an update when asked.
    static func preferences(of user: UUID, forUpdate: Bool, _ work: UnitOfWork) async throws -> NotificationPreferences? {
        let lock = forUpdate ? SQLFragment("FOR UPDATE") : SQLFragment("")
        return try await work.query("""
            SELECT user_id, entries::text AS entries, version, updated_at FROM notification.preferences WHERE user_id = \(user) \(lock)
            """).first(where: { _ in true }).map(preferences)
    }

    static func savePreferences(of user: UUID, _ entries: [ChannelPreference], _ work: UnitOfWork) async throws -> NotificationPreferences {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(entries), as: UTF8.self)
        return try preferences(try await work.query("""
            INSERT INTO notification.preferences (user_id, entries) VALUES (\(user)::uuid, \(json)::jsonb)
            ON CONFLICT (user_id) DO UPDATE SET entries = EXCLUDED.entries, version = notification.preferences.version + 1,
                updated_at = clock_timestamp()
            RETURNING user_id, entries::text AS entries, version, updated_at
            """).single())
    }
}
