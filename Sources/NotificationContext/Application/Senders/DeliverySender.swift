import Foundation
import KaroKarKernel

/// Sends one claimed delivery on its channel; throws ``SendFailure``.
protocol DeliverySender: Sendable {
    func send(_ delivery: OutgoingDelivery) async throws(SendFailure)
}

/// E-mail over SMTP, with a stable `Message-ID` per delivery (`<delivery-id@domain>`): a message
/// sent twice (a sender that died after the server took it, before recording it) carries the same
/// id both times, so mail systems and readers can tell the copy.
struct EmailSender: DeliverySender {
    let client: SMTPClient

    init(_ configuration: SMTPConfiguration) {
        client = SMTPClient(configuration)
    }

    func send(_ delivery: OutgoingDelivery) async throws(SendFailure) {
        try await client.send(MailMessage(
            messageID: "\(delivery.id.lowercasedString)@\(client.configuration.messageIDDomain)", to: delivery.address,
            toName: delivery.recipientName, subject: delivery.title, body: delivery.body,
            headers: [("X-KaroKar-Event", delivery.eventType), ("X-KaroKar-Event-Id", delivery.eventID.lowercasedString)]
        ))
    }
}
