import Foundation
import KaroKarKernel

/// Sends one claimed delivery on its channel; throws ``SendFailure``.
protocol DeliverySender: Sendable {
    func send(_ delivery: OutgoingDelivery) async throws(SendFailure)
    /// Lets go of what it holds (pooled connections) when the senders' loop ends.
    func close() async
}

extension DeliverySender {
    func close() async {}
}

/// E-mail over SMTP, with a stable `Message-ID` per delivery (`<delivery-id@domain>`): a message
/// sent twice (a sender that died after the server took it, before recording it) carries the same
/// id both times, so mail systems and readers can tell the copy. Sent over the process's pool
/// of persistent SMTP sessions (``SMTPConnectionPool``).
struct EmailSender: DeliverySender {
    let pool: SMTPConnectionPool
    let configuration: SMTPConfiguration

    init(_ configuration: SMTPConfiguration) {
        self.configuration = configuration
        pool = SMTPConnectionPool(SMTPClient(configuration))
    }

    func close() async {
        await pool.close()
    }

    func send(_ delivery: OutgoingDelivery) async throws(SendFailure) {
        try await pool.send(MailMessage(
            messageID: "\(delivery.id.lowercasedString)@\(configuration.messageIDDomain)", to: delivery.address,
            toName: delivery.recipientName, subject: delivery.title, body: delivery.body,
            headers: [("X-KaroKar-Event", delivery.eventType), ("X-KaroKar-Event-Id", delivery.eventID.lowercasedString)]
        ))
    }
}
