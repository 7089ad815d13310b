import Foundation
import NIOCore
import NIOPosix
import NIOSSL

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
    var parkedAt = ContinuousClock.now
    var idleTimer: Scheduled<Void>?

    init(session: SMTPSession) {
        self.session = session
    }

    var isOpen: Bool { session.channel.isActive }

    func close() {
        idleTimer?.cancel()
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

/// A small SMTP client over SwiftNIO (RFC 5321): ``connect()`` opens a session (greeting, EHLO or
/// HELO when refused, TLS, AUTH PLAIN or LOGIN when configured), ``transaction(_:on:)`` sends one
/// message on it (MAIL, RCPT, DATA with dot-stuffing; RSET after a refusal, so the session
/// carries the next one), and ``send(_:)`` does both once and QUITs (``SMTPConnectionPool``
/// keeps sessions instead). Every step is bounded by the configured timeout, replies are read
/// with bounded lines (4 KiB) and bounded length (100 lines). With
/// ``SMTPConfiguration/Security/startTLS(trustRootsFile:)``, STARTTLS (NIOSSL, the certificate and
/// host name verified) is required before AUTH and MAIL: a server that does not offer it is an
/// error, never a fall-back to plain text; with ``SMTPConfiguration/Security/implicitTLS(trustRootsFile:)``
/// the connection is TLS from its first byte.
///
/// Failures: a 5xx reply to MAIL, RCPT or the message's end refuses this message for good
/// (permanent); anything else (a refusal at connection, 4xx, time-outs, a connection that closes)
/// may pass and is retried.
struct SMTPClient: Sendable {
    let configuration: SMTPConfiguration
    let group: any EventLoopGroup
    /// Made once: the TLS context (or why it could not be made); nil without TLS.
    let tls: Result<NIOSSLContext, SendFailure>?

    init(_ configuration: SMTPConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
        let roots: String?
        switch configuration.security {
        case .none:
            tls = nil
            return
        case .startTLS(let file), .implicitTLS(let file): roots = file
        }
        var settings = TLSConfiguration.makeClientConfiguration()
        if let roots { settings.trustRoots = .file(roots) }
        do {
            tls = .success(try NIOSSLContext(configuration: settings))
        } catch {
            tls = .failure(.transient("cannot set up TLS: \(error)"))
        }
    }

    var implicitTLS: Bool {
        if case .implicitTLS = configuration.security { true } else { false }
    }

    /// The name the certificate must carry (nil for an IP address: the address is checked).
    var serverHostname: String? {
        let host = configuration.host
        let isAddress = host.contains(":") || host.split(separator: ".").allSatisfy { Int($0) != nil }
        return isAddress ? nil : host
    }

    /// One message on a connection of its own: opened, used once, closed with QUIT.
    func send(_ message: MailMessage) async throws(SendFailure) {
        guard Self.isAddress(message.to) else { throw .permanent("not an e-mail address: \(message.to.prefix(100))") }
        let connection = try await connect()
        do {
            try await transaction(message, on: connection)
        } catch {
            connection.close()
            throw error.failure
        }
        await connection.session.quit()
    }

    /// Opens a session ready for mail transactions.
    func connect() async throws(SendFailure) -> SMTPConnection {
        let reader = SMTPReplyReader()
        let channel: any Channel
        do {
            var handshake: NIOSSLClientHandler?
            if implicitTLS, let tls {
                handshake = try NIOSSLClientHandler(context: try tls.get(), serverHostname: serverHostname)
            }
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(TimeAmount(configuration.timeout))
                .channelInitializer { [handshake] channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let handshake { try channel.pipeline.syncOperations.addHandler(handshake) }
                        try channel.pipeline.syncOperations.addHandler(reader)
                    }
                }
                .connect(host: configuration.host, port: configuration.port).get()
        } catch let failure as SendFailure {
            throw failure
        } catch {
            throw .transient("cannot connect to \(configuration.host):\(configuration.port): \(error)")
        }
        let session = SMTPSession(channel: channel, reader: reader, timeout: configuration.timeout)
        do {
            try await open(session)
        } catch {
            channel.close(promise: nil)
            throw Self.failure(error)
        }
        return SMTPConnection(session: session)
    }

    static func failure(_ error: any Error) -> SendFailure {
        switch error {
        case let failure as SendFailure: failure
        case let refusal as SMTPRefusal: refusal.failure
        default: .transient("\(error)")
        }
    }

    private func open(_ session: SMTPSession) async throws {
        try await session.expect([220], step: "greeting")
        var hello = try await session.command("EHLO \(configuration.heloName)", step: "EHLO")
        if hello.code != 250 {
            hello = try await session.command("HELO \(configuration.heloName)", step: "HELO")
            try session.require(hello, [250], step: "HELO")
        }
        var extensions = hello.lines.dropFirst().map { $0.uppercased() }
        if let tls, !implicitTLS {
            let context = try tls.get()
            guard extensions.contains(where: { $0 == "STARTTLS" || $0.hasPrefix("STARTTLS ") }) else {
                throw SendFailure.transient("the SMTP server does not offer STARTTLS")
            }
            try session.require(try await session.command("STARTTLS", step: "STARTTLS"), [220], step: "STARTTLS")
            try await session.startTLS(context, serverHostname: serverHostname)
            hello = try await session.command("EHLO \(configuration.heloName)", step: "EHLO after STARTTLS")
            try session.require(hello, [250], step: "EHLO after STARTTLS")
            extensions = hello.lines.dropFirst().map { $0.uppercased() }
        }
        if case .password(let username, let password) = configuration.authentication {
            let mechanisms = extensions.first { $0.hasPrefix("AUTH ") || $0.hasPrefix("AUTH=") }?.dropFirst(5).split(separator: " ") ?? []
            if mechanisms.contains("PLAIN") {
                let token = Data(([0] + Array(username.utf8) + [0] + Array(password.utf8))).base64EncodedString()
                try session.require(try await session.command("AUTH PLAIN \(token)", step: "AUTH", secret: true), [235], step: "AUTH PLAIN")
            } else if mechanisms.contains("LOGIN") {
                try session.require(try await session.command("AUTH LOGIN", step: "AUTH"), [334], step: "AUTH LOGIN")
                try session.require(try await session.command(Data(username.utf8).base64EncodedString(), step: "AUTH", secret: true), [334], step: "AUTH LOGIN")
                try session.require(try await session.command(Data(password.utf8).base64EncodedString(), step: "AUTH", secret: true), [235], step: "AUTH LOGIN")
            } else {
                throw SendFailure.transient("the SMTP server offers neither AUTH PLAIN nor AUTH LOGIN")
            }
        }
    }

    /// One mail transaction on an open session. After a refusal (the server answered in turn),
    /// RSET puts the session back to its start, so it can carry the next message; after a
    /// time-out, a 421 or a closed connection it cannot.
    func transaction(_ message: MailMessage, on connection: SMTPConnection) async throws(SMTPTransactionFailure) {
        let session = connection.session
        var dataWritten = false
        do {
            guard Self.isAddress(message.to) else { throw SendFailure.permanent("not an e-mail address: \(message.to.prefix(100))") }
            try session.require(try await session.command("MAIL FROM:<\(configuration.from)>", step: "MAIL"), [250], step: "MAIL FROM", permanentOn5xx: true)
            try session.require(try await session.command("RCPT TO:<\(message.to)>", step: "RCPT"), [250, 251], step: "RCPT TO", permanentOn5xx: true)
            try session.require(try await session.command("DATA", step: "DATA"), [354], step: "DATA", permanentOn5xx: true)
            dataWritten = true
            try await session.write(Self.data(of: message, configuration: configuration), step: "message")
            try session.require(try await session.reply(step: "end of message"), [250], step: "end of message", permanentOn5xx: true)
            connection.messages += 1
        } catch let refusal as SMTPRefusal {
            connection.messages += 1
            var usable = false
            if refusal.code != 421 {
                let reset = try? await session.command("RSET", step: "RSET")
                usable = reset?.code == 250
            }
            throw SMTPTransactionFailure(
                failure: refusal.failure, connectionUsable: usable, closedBeforeData: refusal.code == 421 && !dataWritten
            )
        } catch let failure as SendFailure where failure.isPermanent {
            // Refused before a word was sent (not an address): the session is untouched.
            throw SMTPTransactionFailure(failure: failure, connectionUsable: true, closedBeforeData: false)
        } catch {
            throw SMTPTransactionFailure(
                failure: Self.failure(error), connectionUsable: false, closedBeforeData: !dataWritten && !connection.isOpen
            )
        }
    }

    /// The message as DATA carries it: headers, body, CRLF line ends, dot-stuffed, ending in
    /// `CRLF.CRLF`. An ASCII body goes as 7bit text; any other as base64.
    static func data(of message: MailMessage, configuration: SMTPConfiguration, date: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        let body = message.body.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        let ascii = body.utf8.allSatisfy { $0 < 0x80 } && body.split(separator: "\n").allSatisfy { $0.utf8.count <= 998 }
        var lines = [
            "From: \(mailbox(configuration.fromName, configuration.from))",
            "To: \(mailbox(message.toName, message.to))",
            "Subject: \(encodedWord(message.subject))",
            "Date: \(formatter.string(from: date))",
            "Message-ID: <\(message.messageID)>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: \(ascii ? "7bit" : "base64")",
        ]
        for (name, value) in message.headers { lines.append("\(name): \(headerValue(value))") }
        lines.append("")
        if ascii {
            lines += body.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasPrefix(".") ? "." + $0 : String($0) }
        } else {
            let encoded = Data(body.utf8).base64EncodedString()
            var index = encoded.startIndex
            while index < encoded.endIndex {
                let end = encoded.index(index, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex
                lines.append(String(encoded[index..<end]))
                index = end
            }
        }
        return lines.joined(separator: "\r\n") + "\r\n.\r\n"
    }

    /// A header value on one line (CR, LF and other controls become spaces).
    static func headerValue(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
    }

    /// RFC 2047 `=?UTF-8?B?...?=` for non-ASCII text; ASCII as it is.
    static func encodedWord(_ text: String) -> String {
        let flat = headerValue(text)
        guard !flat.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return flat }
        return "=?UTF-8?B?\(Data(flat.utf8).base64EncodedString())?="
    }

    static func mailbox(_ name: String, _ address: String) -> String {
        let flat = headerValue(name).trimmingCharacters(in: .whitespaces)
        guard !flat.isEmpty else { return "<\(address)>" }
        let display = flat.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F })
            ? "\"" + flat.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
            : encodedWord(flat)
        return "\(display) <\(address)>"
    }

    /// `local@domain`, printable ASCII, nothing that could end a command or an address.
    static func isAddress(_ text: String) -> Bool {
        text.utf8.count <= 254 && text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: ">") })
            && text.split(separator: "@", omittingEmptySubsequences: false).count == 2 && !text.hasPrefix("@") && !text.hasSuffix("@")
    }
}
