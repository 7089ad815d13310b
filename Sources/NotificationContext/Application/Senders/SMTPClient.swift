import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// A small SMTP client over SwiftNIO (RFC 5321): ``connect()`` opens a session (greeting, EHLO or
/// HELO when refused, TLS, AUTH PLAIN or LOGIN when configured), ``transaction(_:on:)`` sends one
/// message on it (MAIL, RCPT, DATA with dot-stuffing; RSET after a refusal, so the session
/// carries the next one; MAIL, RCPT and DATA in one write when the server offers PIPELINING),
/// and ``send(_:)`` does both once and QUITs (``SMTPConnectionPool`` keeps sessions instead). Every step is bounded by the configured timeout, replies are read
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
        let extensions: [String]
        do {
            extensions = try await open(session)
        } catch {
            channel.close(promise: nil)
            throw Self.failure(error)
        }
        let connection = SMTPConnection(session: session)
        connection.pipelining = extensions.contains { $0 == "PIPELINING" || $0.hasPrefix("PIPELINING ") }
        return connection
    }

    static func failure(_ error: any Error) -> SendFailure {
        switch error {
        case let failure as SendFailure: failure
        case let refusal as SMTPRefusal: refusal.failure
        default: .transient("\(error)")
        }
    }

    /// Greeting, EHLO (HELO when refused), STARTTLS and AUTH when configured; the extensions
    /// the server offers for mail transactions (upper case, empty after HELO).
    private func open(_ session: SMTPSession) async throws -> [String] {
        try await session.expect([220], step: "greeting")
        var hello = try await session.command("EHLO \(configuration.heloName)", step: "EHLO")
        let extended = hello.code == 250
        if !extended {
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
        return extended ? extensions : []
    }

    /// One mail transaction on an open session. After a refusal (the server answered in turn),
    /// RSET puts the session back to its start, so it can carry the next message; after a
    /// time-out, a 421 or a closed connection it cannot.
    func transaction(_ message: MailMessage, on connection: SMTPConnection) async throws(SMTPTransactionFailure) {
        let session = connection.session
        var dataWritten = false
        do {
            guard Self.isAddress(message.to) else { throw SendFailure.permanent("not an e-mail address: \(message.to.prefix(100))") }
            let mail = "MAIL FROM:<\(configuration.from)>", recipient = "RCPT TO:<\(message.to)>"
            if connection.pipelining {
                try await pipelinedEnvelope(mail: mail, recipient: recipient, on: session)
            } else {
                try session.require(try await session.command(mail, step: "MAIL"), [250], step: "MAIL FROM", permanentOn5xx: true)
                try session.require(try await session.command(recipient, step: "RCPT"), [250, 251], step: "RCPT TO", permanentOn5xx: true)
                try session.require(try await session.command("DATA", step: "DATA"), [354], step: "DATA", permanentOn5xx: true)
            }
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

    /// MAIL, RCPT and DATA in one write to a server that offers PIPELINING (RFC 2920), then their
    /// three replies in order: one round trip instead of three. Every reply owed is read before a
    /// refusal is thrown (so RSET's reply is the next one), except after a 421, when the server is
    /// closing. A server that accepts DATA although MAIL or RCPT was refused gets an empty message
    /// ended at once ("." alone), which it must reject for want of recipients, and the first
    /// refusal is reported.
    private func pipelinedEnvelope(mail: String, recipient: String, on session: SMTPSession) async throws {
        try await session.write(mail + "\r\n" + recipient + "\r\nDATA\r\n", step: "MAIL, RCPT and DATA")
        let mailReply = try await session.reply(step: "MAIL")
        if mailReply.code == 421 { try session.require(mailReply, [250], step: "MAIL FROM", permanentOn5xx: true) }
        let recipientReply = try await session.reply(step: "RCPT")
        if recipientReply.code == 421 { try session.require(recipientReply, [250, 251], step: "RCPT TO", permanentOn5xx: true) }
        let dataReply = try await session.reply(step: "DATA")
        let envelopeAccepted = mailReply.code == 250 && [250, 251].contains(recipientReply.code)
        if dataReply.code == 354 && !envelopeAccepted {
            _ = try await session.command(".", step: "end of an empty message")
        }
        try session.require(mailReply, [250], step: "MAIL FROM", permanentOn5xx: true)
        try session.require(recipientReply, [250, 251], step: "RCPT TO", permanentOn5xx: true)
        try session.require(dataReply, [354], step: "DATA", permanentOn5xx: true)
    }
}
