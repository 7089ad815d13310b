import Foundation
import NIOCore

/// How the server reaches its SMTP relay (settings `notification-smtp-*`).
public struct SMTPConfiguration: Sendable, Hashable {
    public enum Security: Sendable, Hashable {
        /// Plain text (a relay on loopback or a trusted network only).
        case none
        /// STARTTLS is required before AUTH and MAIL; the server's certificate is verified
        /// against the PEM roots in `trustRootsFile` (nil: the system's) and the host name.
        case startTLS(trustRootsFile: String?)
        /// TLS from the connection's first byte (SMTPS, RFC 8314, usually port 465), verified
        /// the same way.
        case implicitTLS(trustRootsFile: String?)
    }

    public enum Authentication: Sendable, Hashable {
        case none
        /// AUTH PLAIN when the server offers it, else AUTH LOGIN.
        case password(username: String, password: String)
    }

    public var host: String
    public var port = 25
    /// The envelope sender and `From:` address.
    public var from: String
    public var fromName = "KaroKar"
    /// The name this client gives in EHLO.
    public var heloName = "karokar.local"
    /// The right-hand side of each delivery's `Message-ID: <delivery-id@domain>`.
    public var messageIDDomain = "karokar.local"
    public var authentication: Authentication = .none
    public var security: Security = .none
    /// Connecting, and every step of the dialogue (each reply awaited, each write), is bounded
    /// by this; so is waiting for a pooled connection to come free.
    public var timeout: Duration = .seconds(5)
    /// Persistent connections (sessions) one process keeps to the relay at most, each carrying
    /// one message at a time.
    public var maximumConnections = 8
    /// A pooled connection unused this long is closed (QUIT); the next message opens a new one.
    public var idleTimeout: Duration = .seconds(30)
    /// Messages one connection carries before it is closed and replaced (relays limit this).
    public var maximumMessagesPerConnection = 1000

    public init(host: String, port: Int = 25, from: String) {
        self.host = host
        self.port = port
        self.from = from
    }
}

/// One e-mail, ready to send.
struct MailMessage: Sendable, Hashable {
    var messageID: String
    var to: String
    var toName: String
    var subject: String
    var body: String
    var headers: [(String, String)] = []

    static func == (lhs: MailMessage, rhs: MailMessage) -> Bool {
        lhs.messageID == rhs.messageID && lhs.to == rhs.to && lhs.subject == rhs.subject && lhs.body == rhs.body
    }

    func hash(into hasher: inout Hasher) { hasher.combine(messageID) }
}

/// One open SMTP session, ready for a mail transaction (greeted, EHLO, TLS and AUTH done). Used
/// by one sender at a time (the pool hands it out); `messages` counts its transactions.
final class SMTPConnection: @unchecked Sendable {
    let session: SMTPSession
    /// Mutated by its holder only (the pool while it is parked).
    var messages = 0
    /// The server offers PIPELINING (RFC 2920): a transaction writes MAIL, RCPT and DATA at once.
    var pipelining = false
    var parkedAt = ContinuousClock.now

    init(session: SMTPSession) {
        self.session = session
    }

    var isOpen: Bool { session.channel.isActive }

    func close() {
        session.channel.close(promise: nil)
    }
}

/// Why a mail transaction failed, and what it leaves of the connection.
struct SMTPTransactionFailure: Error {
    var failure: SendFailure
    /// The server answered in turn and took RSET: the connection can carry the next message.
    var connectionUsable: Bool
    /// The connection was found closed (or the server said 421) before any of the message's
    /// data was written: nothing was delivered, so the message may go at once on a new connection.
    var closedBeforeData: Bool
}

/// A refusal reply (the server answered in turn with a code it should not have).
struct SMTPRefusal: Error {
    let code: Int
    let failure: SendFailure
}
