import Crypto
import Foundation
import KaroKarTestSupport
import KaroKarKernel
import NIOCore
import NIOHTTP1
@testable import NotificationContext
import Testing

/// The SMS and push sender against a real HTTP server on loopback: the JSON body, the HMAC
/// signature and bearer token, the idempotency key; what is retried and what is refused for good.
@Suite(.serialized)
struct HTTPSenderTests {
    static func delivery(channel: NotificationChannel, to address: String = "+919800000001") -> OutgoingDelivery {
        OutgoingDelivery(
            id: UUID(), eventID: UUID(), eventType: "booking.approved", recipientUserID: UUID(), channel: channel, address: address,
            recipientName: "Meera Iyer", title: "Your booking b-1 was approved", body: "Hello Meera,\n...",
            shortBody: "KaroKar: booking b-1 approved.", attempt: 1, lease: UUID()
        )
    }

    @Test func smsIsSignedAndCarriesTheDelivery() async throws {
        let server = HTTPRecorder()
        _ = try await server.start()
        defer { Task { await server.stop() } }
        var configuration = HTTPChannelConfiguration(url: server.url("sms"))
        configuration.authentication = .hmac("sms-secret")
        let sender = HTTPSender(channel: .sms, configuration: configuration, clock: SystemClock())
        let delivery = Self.delivery(channel: .sms)
        try await sender.send(delivery)
        let request = try #require(server.requests.last)
        #expect(request.method == .POST && request.uri == "/sms")
        #expect(request.headers["idempotency-key"].first == delivery.id.lowercasedString)
        let timestamp = try #require(request.headers["x-karokar-timestamp"].first)
        let mac = HMAC<SHA256>.authenticationCode(for: Array(timestamp.utf8) + [UInt8(ascii: ".")] + request.body, using: SymmetricKey(data: Array("sms-secret".utf8)))
        #expect(request.headers["x-karokar-signature"].first == "v1=" + mac.map { String(format: "%02x", $0) }.joined())
        let body = try #require(try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])
        #expect(body["to"] as? String == "+919800000001" && body["text"] as? String == "KaroKar: booking b-1 approved.")
        #expect(body["deliveryId"] as? String == delivery.id.lowercasedString && body["channel"] as? String == "SMS")

        // 503 and a slow answer are worth retrying; 400 is not.
        server.answer(.failure(.serviceUnavailable))
        await #expect { try await sender.send(Self.delivery(channel: .sms)) } throws: { ($0 as? SendFailure)?.isPermanent == false }
        server.answer(.failure(.badRequest))
        await #expect { try await sender.send(Self.delivery(channel: .sms)) } throws: { ($0 as? SendFailure)?.isPermanent == true }
        var slow = HTTPRecorder.Behaviour.accept
        slow.delay = .seconds(2)
        server.answer(slow)
        var quick = configuration
        quick.timeout = .milliseconds(300)
        let impatient = HTTPSender(channel: .sms, configuration: quick, clock: SystemClock())
        let started = Date()
        await #expect { try await impatient.send(Self.delivery(channel: .sms)) } throws: { error in
            (error as? SendFailure).map { !$0.isPermanent && $0.description.contains("did not answer") } ?? false
        }
        #expect(Date().timeIntervalSince(started) < 1.5)
    }

    @Test func pushCarriesTheBearerToken() async throws {
        let server = HTTPRecorder()
        _ = try await server.start()
        defer { Task { await server.stop() } }
        var configuration = HTTPChannelConfiguration(url: server.url("push"))
        configuration.authentication = .bearer("push-token")
        try await HTTPSender(channel: .push, configuration: configuration, clock: SystemClock()).send(Self.delivery(channel: .push, to: ""))
        let request = try #require(server.requests.last)
        #expect(request.headers["authorization"].first == "Bearer push-token")
        let body = try #require(try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])
        #expect(body["to"] == nil && body["title"] as? String == "Your booking b-1 was approved")
    }
}

/// The SMTP client's AUTH against a real server that requires it.
@Suite(.serialized)
struct SMTPAuthTests {
    @Test func authPlainWithTheRightPasswordOnly() async throws {
        let server = try SMTPRecorder(arguments: ["--auth", "mailer:s3cret"])
        defer { server.stop() }
        var configuration = SMTPConfiguration(host: "127.0.0.1", port: server.port, from: "notifications@karokar.test")
        configuration.authentication = .password(username: "mailer", password: "s3cret")
        let message = MailMessage(messageID: "auth-1@karokar.test", to: "meera@example.com", toName: "Meera", subject: "Hello", body: "Hi.\n.dot")
        try await SMTPClient(configuration).send(message)
        #expect(server.messages.map(\.messageId) == ["<auth-1@karokar.test>"] && server.messages.first?.body.replacingOccurrences(of: "\r\n", with: "\n") == "Hi.\n.dot\n")

        configuration.authentication = .password(username: "mailer", password: "wrong")
        await #expect { try await SMTPClient(configuration).send(message) } throws: { error in
            (error as? SendFailure).map { !$0.isPermanent && $0.description.contains("535") } ?? false
        }
        configuration.authentication = .none
        await #expect { try await SMTPClient(configuration).send(message) } throws: { error in
            (error as? SendFailure).map { $0.description.contains("530") } ?? false
        }
        #expect(server.messages.count == 1)
    }
}

/// STARTTLS against aiosmtpd requiring it (and AUTH only over TLS), with a certificate made for
/// the test: the message goes encrypted; a client without STARTTLS, or not trusting the
/// certificate, sends nothing.
@Suite(.serialized)
struct SMTPStartTLSTests {
    @Test func startTLSThenAuthThenTheMessage() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let cert = folder.appendingPathComponent("cert.pem").path
        let key = folder.appendingPathComponent("key.pem").path
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        #expect(await ChildExit.wait(openssl) == 0)

        let server = try SMTPRecorder(arguments: ["--tls", cert, key, "--auth", "mailer:s3cret"])
        defer { server.stop() }
        var configuration = SMTPConfiguration(host: "localhost", port: server.port, from: "notifications@karokar.test")
        configuration.authentication = .password(username: "mailer", password: "s3cret")
        configuration.security = .startTLS(trustRootsFile: cert)
        let message = MailMessage(messageID: "tls-1@karokar.test", to: "meera@example.com", toName: "Meera", subject: "Over TLS", body: "Hi.")
        try await SMTPClient(configuration).send(message)
        #expect(server.messages.map(\.messageId) == ["<tls-1@karokar.test>"])

        // Without STARTTLS the server refuses AUTH and MAIL; not trusting its certificate, the
        // handshake fails. Nothing more is accepted.
        var plain = configuration
        plain.security = .none
        await #expect(throws: SendFailure.self) { try await SMTPClient(plain).send(message) }
        var untrusting = configuration
        untrusting.security = .startTLS(trustRootsFile: nil)
        await #expect(throws: SendFailure.self) { try await SMTPClient(untrusting).send(message) }
        #expect(server.messages.count == 1)
    }
}
