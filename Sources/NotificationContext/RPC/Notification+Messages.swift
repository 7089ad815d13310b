import Foundation
import KaroKarKernel
import KaroKarMessages

/// Domain <-> wire, at the RPC edge only.
extension NotificationChannel {
    init?(_ message: NotificationV1.NotificationChannel) {
        switch message {
        case .email: self = .email
        case .sms: self = .sms
        case .push: self = .push
        case .inApp: self = .inApp
        case .unspecified, .unrecognized: return nil
        }
    }

    var message: NotificationV1.NotificationChannel {
        switch self {
        case .email: .email
        case .sms: .sms
        case .push: .push
        case .inApp: .inApp
        }
    }
}

extension DeliveryStatus {
    init?(_ message: NotificationV1.DeliveryStatus) {
        switch message {
        case .pending: self = .pending
        case .sent: self = .sent
        case .failed: self = .failed
        case .skipped: self = .skipped
        case .unspecified, .unrecognized: return nil
        }
    }

    var message: NotificationV1.DeliveryStatus {
        switch self {
        case .pending: .pending
        case .sent: .sent
        case .failed: .failed
        case .skipped: .skipped
        }
    }
}

extension Delivery {
    var message: NotificationV1.NotificationDelivery {
        NotificationV1.NotificationDelivery(
            id: id.lowercasedString, eventId: eventID.lowercasedString, eventType: eventType, recipientUserId: recipientUserID.lowercasedString,
            organizationId: organizationID.lowercasedString, channel: channel.message, templateName: template, status: status.message,
            attempts: UInt32(clamping: attempts), lastError: lastError.map { CommonV1.StringValue(value: $0) },
            nextAttemptAt: nextAttemptAt?.timestamp, createdAt: createdAt.timestamp, sentAt: sentAt?.timestamp
        )
    }
}

extension InboxEntry {
    var message: NotificationV1.InboxMessage {
        NotificationV1.InboxMessage(
            id: id.lowercasedString, eventId: eventID.lowercasedString, eventType: eventType, organizationId: organizationID.lowercasedString,
            title: title, body: body, subjectType: subjectType, subjectId: subjectID, createdAt: createdAt.timestamp,
            readAt: readAt?.timestamp, version: version
        )
    }
}

extension NotificationPreferences {
    var message: NotificationV1.NotificationPreferences {
        NotificationV1.NotificationPreferences(
            userId: userID.lowercasedString,
            preferences: entries.map { NotificationV1.ChannelPreference(channel: $0.channel.message, eventTypePattern: $0.pattern, enabled: $0.enabled) },
            version: version, updatedAt: updatedAt?.timestamp
        )
    }
}
