import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import KaroKarServices

/// `karokar.notification.v1.NotificationService`: validates each request, parses it once into
/// domain values, calls the ``Notification`` use case, maps the result to the response. Tenancy
/// (whose inbox, whose deliveries) is the use cases'.
struct NotificationHandler: NotificationV1.NotificationService.Handler {
    let notification: Notification

    var pages: PageTokens { notification.environment.pages }

    func listInbox(_ request: NotificationV1.ListInboxRequest, context: ServerCallContext) async throws -> NotificationV1.ListInboxResponse {
        let page = try Page<TimeKey>(request.page, list: "notification.inbox", tokens: pages, defaultSize: 20, maximum: 100)
        let rows = try await notification.inbox(unreadOnly: request.unreadOnly, page: page, Invocation(context, fingerprint: request))
        let (kept, next) = page.cut(rows) { TimeKey($0.createdAt, $0.id) }
        return NotificationV1.ListInboxResponse(messages: kept.map(\.message), page: next)
    }

    func getUnreadCount(_ request: NotificationV1.GetUnreadCountRequest, context: ServerCallContext) async throws -> NotificationV1.GetUnreadCountResponse {
        let count = try await notification.unreadCount(Invocation(context, fingerprint: request))
        return NotificationV1.GetUnreadCountResponse(unreadCount: UInt32(clamping: count))
    }

    func markRead(_ request: NotificationV1.MarkReadRequest, context: ServerCallContext) async throws -> NotificationV1.MarkReadResponse {
        var check = Validation()
        let id = check.uuid(request.messageId, "messageId")
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let entry = try await notification.markRead(id, expectedVersion: version, Invocation(context, fingerprint: request))
        return NotificationV1.MarkReadResponse(inboxMessage: entry.message)
    }

    func markAllRead(_ request: NotificationV1.MarkAllReadRequest, context: ServerCallContext) async throws -> NotificationV1.MarkAllReadResponse {
        var check = Validation()
        let upTo = check.optionalUUID(request.upToMessageId, "upToMessageId")
        try check.finish()
        let count = try await notification.markAllRead(upTo: upTo, Invocation(context, fingerprint: request))
        return NotificationV1.MarkAllReadResponse(markedCount: UInt32(clamping: count))
    }

    func getPreferences(_ request: NotificationV1.GetPreferencesRequest, context: ServerCallContext) async throws -> NotificationV1.GetPreferencesResponse {
        let preferences = try await notification.preferences(Invocation(context, fingerprint: request))
        return NotificationV1.GetPreferencesResponse(preferences: preferences.message)
    }

    func setPreferences(_ request: NotificationV1.SetPreferencesRequest, context: ServerCallContext) async throws -> NotificationV1.SetPreferencesResponse {
        var check = Validation()
        var entries: [ChannelPreference] = []
        var seen: Set<String> = []
        if request.preferences.count > NotificationPreferences.maximumEntries {
            check.add("preferences", "OUT_OF_RANGE", "at most \(NotificationPreferences.maximumEntries) entries")
        }
        for (index, entry) in request.preferences.prefix(NotificationPreferences.maximumEntries).enumerated() {
            let field = "preferences[\(index)]"
            guard let channel = NotificationChannel(entry.channel) else {
                check.add("\(field).channel", "UNKNOWN_VALUE", "channel must be EMAIL, SMS, PUSH or IN_APP")
                continue
            }
            guard NotificationPreferences.isPattern(entry.eventTypePattern) else {
                check.add("\(field).eventTypePattern", "MALFORMED", "an event name (booking.approved), a category (booking.*) or *")
                continue
            }
            if channel == .inApp && !entry.enabled {
                check.add("\(field).enabled", "IN_APP_ALWAYS_ON", "in-app notifications cannot be turned off")
            }
            if !seen.insert("\(channel.rawValue) \(entry.eventTypePattern)").inserted {
                check.add(field, "DUPLICATE", "one entry per channel and pattern")
            }
            entries.append(ChannelPreference(channel: channel, pattern: entry.eventTypePattern, enabled: entry.enabled))
        }
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let preferences = try await notification.setPreferences(entries, expectedVersion: version, Invocation(context, fingerprint: request))
        return NotificationV1.SetPreferencesResponse(preferences: preferences.message)
    }

    func listDeliveries(_ request: NotificationV1.ListDeliveriesRequest, context: ServerCallContext) async throws -> NotificationV1.ListDeliveriesResponse {
        var check = Validation()
        var filter = DeliveryFilter()
        filter.recipientUserID = check.optionalUUID(request.recipientUserId, "recipientUserId")
        filter.eventID = request.eventId.map { check.uuid($0.value, "eventId.value") }
        if !request.eventType.isEmpty {
            if NotificationPreferences.isPattern(request.eventType) && !request.eventType.hasSuffix("*") {
                filter.eventType = request.eventType
            } else {
                check.add("eventType", "MALFORMED", "an event name (booking.requested)")
            }
        }
        if request.statuses.count > 4 { check.add("statuses", "OUT_OF_RANGE", "at most 4 statuses") }
        for (index, status) in request.statuses.prefix(4).enumerated() {
            if let status = DeliveryStatus(status) {
                filter.statuses.append(status)
            } else {
                check.add("statuses[\(index)]", "UNKNOWN_VALUE", "status must be PENDING, SENT, FAILED or SKIPPED")
            }
        }
        switch request.channel {
        case .unspecified: filter.channel = nil
        default:
            if let channel = NotificationChannel(request.channel) { filter.channel = channel } else {
                check.add("channel", "UNKNOWN_VALUE", "channel must be EMAIL, SMS, PUSH or IN_APP")
            }
        }
        try check.finish()
        let page = try Page<TimeKey>(request.page, list: "notification.deliveries", tokens: pages)
        let rows = try await notification.deliveries(
            matching: filter, allRecipients: request.allRecipients, page: page, Invocation(context, fingerprint: request)
        )
        let (kept, next) = page.cut(rows) { TimeKey($0.createdAt, $0.id) }
        return NotificationV1.ListDeliveriesResponse(deliveries: kept.map(\.message), page: next)
    }

    func retryDelivery(_ request: NotificationV1.RetryDeliveryRequest, context: ServerCallContext) async throws -> NotificationV1.RetryDeliveryResponse {
        var check = Validation()
        let id = check.uuid(request.deliveryId, "deliveryId")
        try check.finish()
        let delivery = try await notification.retry(id, Invocation(context, fingerprint: request))
        return NotificationV1.RetryDeliveryResponse(delivery: delivery.message)
    }
}
