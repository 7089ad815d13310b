import Foundation
import KaroKarKernel

/// How a notification reaches a user (DOMAIN.md section 9).
public enum NotificationChannel: String, Sendable, Hashable, Codable, CaseIterable {
    case email = "EMAIL"
    case sms = "SMS"
    case push = "PUSH"
    case inApp = "IN_APP"
}

/// `PENDING -> SENT | FAILED | SKIPPED`; a failed attempt leaves it PENDING with a later
/// `nextAttemptAt` until the attempts run out.
enum DeliveryStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case pending = "PENDING"
    case sent = "SENT"
    case failed = "FAILED"
    case skipped = "SKIPPED"
}

/// One attempt chain to tell one recipient about one event on one channel; unique per
/// `(eventID, recipientUserID, channel)`.
struct Delivery: Sendable, Hashable, Codable {
    var id: UUID
    var eventID: UUID
    var eventType: String
    var recipientUserID: UUID
    var organizationID: UUID
    var channel: NotificationChannel
    var template: String
    var status: DeliveryStatus
    var attempts: Int
    var lastError: String?
    var nextAttemptAt: Instant?
    var createdAt: Instant
    var sentAt: Instant?
}

/// An in-app delivery as its recipient reads it.
struct InboxEntry: Sendable, Hashable, Codable {
    var id: UUID
    var eventID: UUID
    var eventType: String
    var organizationID: UUID
    var title: String
    var body: String
    var subjectType: String
    var subjectID: String
    var createdAt: Instant
    var readAt: Instant?
    var version: Int64
}

/// What a sender needs to send one claimed delivery (rendered when it was planned).
struct OutgoingDelivery: Sendable, Hashable {
    var id: UUID
    var eventID: UUID
    var eventType: String
    var recipientUserID: UUID
    var channel: NotificationChannel
    /// E-mail address or phone number; empty for push (the endpoint knows the user's devices).
    var address: String
    var recipientName: String
    var title: String
    var body: String
    /// The link-free plain text for SMS and push.
    var shortBody: String
    /// This attempt's number (1 for the first).
    var attempt: Int
    /// Set at the claim: only the claimant records the outcome.
    var lease: UUID
}

/// Why a send failed: worth retrying (time-outs, refusals that may pass) or not (a permanent
/// refusal of this message: SMTP 5xx, HTTP 4xx other than 408 and 429).
struct SendFailure: Error, Sendable, CustomStringConvertible {
    var description: String
    var isPermanent: Bool

    static func transient(_ text: String) -> SendFailure { SendFailure(description: Self.sanitized(text), isPermanent: false) }
    static func permanent(_ text: String) -> SendFailure { SendFailure(description: Self.sanitized(text), isPermanent: true) }

    /// One line, printable, at most 500 characters: what an operator reads in ListDeliveries.
    static func sanitized(_ text: String) -> String {
        let flat = text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : String($0) }.joined()
        return String(flat.prefix(500))
    }
}

/// The filter of the operator's (and a user's own) delivery list.
struct DeliveryFilter: Sendable, Hashable {
    /// Nil: every recipient (platform administrators only).
    var recipientUserID: UUID?
    /// Nil: every organization (platform administrators); else the caller's own.
    var organizationID: UUID?
    var eventID: UUID?
    var eventType: String?
    var statuses: [DeliveryStatus] = []
    var channel: NotificationChannel?
}
