import Foundation
import KaroKarTestSupport
import Testing
@testable import NotificationContext

/// The pool of persistent SMTP sessions against a real server (aiosmtpd, Deploy/smtp-recorder.py),
/// counting connections and transactions at the server: many messages over at most the pool's
/// connections; a connection the server closed (idle, or just as it is reused) is replaced and
/// the message still goes once; a refused transaction does not spoil the connection for the next.
@Suite(.serialized)
struct SMTPConnectionPoolTests {
    /// `timeout`: 5 s by default; the tests that queue many sends on few connections give more
    /// (a waiter's turn comes after every send ahead of it, each a round of Python's SMTP server
    /// on a machine running every suite at once).
    static func configuration(_ server: SMTPRecorder, connections: Int, timeout: Duration = .seconds(5)) -> SMTPConfiguration {
        var configuration = SMTPConfiguration(host: "127.0.0.1", port: server.port, from: "notifications@karokar.test")
        configuration.timeout = timeout
        configuration.maximumConnections = connections
        return configuration
    }

    static func message(_ n: Int, to: String = "meera@example.com") -> MailMessage {
        MailMessage(messageID: "pool-\(n)@karokar.test", to: to, toName: "Meera", subject: "Message \(n)", body: "Hello \(n).\n.dot")
    }

    @Test func manyMessagesGoOverAtMostThePoolsConnections() async throws {
        let server = try SMTPRecorder()
        defer { server.stop() }
        let pool = SMTPConnectionPool(SMTPClient(Self.configuration(server, connections: 3, timeout: .seconds(60))))
        // 60 messages, 12 at a time, over 3 connections at most.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<12 {
                group.addTask {
                    for n in stride(from: worker, to: 60, by: 12) { try await pool.send(Self.message(n)) }
                }
            }
            try await group.waitForAll()
        }
        let received = server.messages
        #expect(received.count == 60 && Set(received.map(\.messageId)) == Set((0..<60).map { "<pool-\($0)@karokar.test>" }))
        #expect(received.allSatisfy { $0.to == ["meera@example.com"] && $0.body.replacingOccurrences(of: "\r\n", with: "\n").hasSuffix(".dot\n") })
        #expect(server.connections <= 3 && Set(received.compactMap(\.connection)).count <= 3)
        let opened = await pool.opened
        let open = await pool.counts.open
        #expect(opened <= 3 && open <= 3)
        await pool.close()
        let openAfter = await pool.counts.open
        #expect(openAfter == 0)
    }

    @Test func aConnectionTheServerClosedWhileIdleIsReplaced() async throws {
        let server = try SMTPRecorder()
        defer { server.stop() }
        // The server accepts each message, then closes the connection (as with an idle one).
        try server.behave("close-idle")
        let pool = SMTPConnectionPool(SMTPClient(Self.configuration(server, connections: 1)))
        try await pool.send(Self.message(1))
        try await Task.sleep(for: .milliseconds(500))
        try await pool.send(Self.message(2))
        #expect(server.messages.map(\.messageId) == ["<pool-1@karokar.test>", "<pool-2@karokar.test>"])
        #expect(server.connections == 2)
        await pool.close()
    }

    @Test func aConnectionClosedJustAsItIsReusedIsReplacedAndTheMessageGoesOnce() async throws {
        let server = try SMTPRecorder()
        defer { server.stop() }
        // 421 and a close at MAIL on any connection that already carried a message: the client
        // learns it only as it starts the next transaction.
        try server.behave("drop-reused")
        let pool = SMTPConnectionPool(SMTPClient(Self.configuration(server, connections: 1)))
        for n in 1...3 { try await pool.send(Self.message(n)) }
        #expect(server.messages.map(\.messageId) == (1...3).map { "<pool-\($0)@karokar.test>" })
        #expect(server.attempts.count == 3)
        #expect(server.connections == 3)
        await pool.close()
    }

    @Test func aRefusedTransactionDoesNotSpoilTheConnection() async throws {
        let server = try SMTPRecorder()
        defer { server.stop() }
        try server.behave("ok", recipients: ["gone@example.com": "reject", "busy@example.com": "refuse"])
        let pool = SMTPConnectionPool(SMTPClient(Self.configuration(server, connections: 1)))
        await #expect { try await pool.send(Self.message(1, to: "gone@example.com")) } throws: { error in
            (error as? SendFailure).map { $0.isPermanent && $0.description.contains("550") } ?? false
        }
        await #expect { try await pool.send(Self.message(2, to: "busy@example.com")) } throws: { error in
            (error as? SendFailure).map { !$0.isPermanent && $0.description.contains("451") } ?? false
        }
        // Not an address at all: refused before a word is sent.
        await #expect(throws: SendFailure.self) { try await pool.send(Self.message(3, to: "nobody")) }
        try await pool.send(Self.message(4))
        // The next transaction started clean (RSET): only its own recipient, on the same connection.
        let received = server.messages
        #expect(received.map(\.messageId) == ["<pool-4@karokar.test>"] && received.first?.to == ["meera@example.com"])
        #expect(server.connections == 1)
        await pool.close()
    }

    @Test func anIdleConnectionIsClosedAfterTheIdleTime() async throws {
        let server = try SMTPRecorder()
        defer { server.stop() }
        var configuration = Self.configuration(server, connections: 2)
        configuration.idleTimeout = .milliseconds(200)
        let pool = SMTPConnectionPool(SMTPClient(configuration))
        try await pool.send(Self.message(1))
        let before = await pool.counts
        #expect(before.open == 1 && before.idle == 1)
        try await Task.sleep(for: .milliseconds(800))
        let after = await pool.counts
        #expect(after.open == 0 && after.idle == 0)
        try await pool.send(Self.message(2))
        #expect(server.messages.count == 2 && server.connections == 2)
        await pool.close()
    }

    @Test func aConnectionIsReplacedAfterItsMessageLimit() async throws {
        let server = try SMTPRecorder()
        defer { server.stop() }
        var configuration = Self.configuration(server, connections: 1)
        configuration.maximumMessagesPerConnection = 2
        let pool = SMTPConnectionPool(SMTPClient(configuration))
        for n in 1...5 { try await pool.send(Self.message(n)) }
        #expect(server.messages.count == 5 && server.connections == 3)
        await pool.close()
    }

    @Test func aSenderWaitsForAConnectionToComeFree() async throws {
        let server = try SMTPRecorder()
        defer { server.stop() }
        // The one connection hangs at the end of DATA until the timeout (1.5 s). A second sender
        // neither fails at once nor opens a second connection: it waits, and either goes on a new
        // connection once the hanging one is dropped, or gives up when its own wait (the same
        // timeout) ends first; the two end within milliseconds of each other.
        try server.behave("ok", recipients: ["slow@example.com": "hang"])
        var configuration = Self.configuration(server, connections: 1)
        configuration.timeout = .milliseconds(1500)
        let pool = SMTPConnectionPool(SMTPClient(configuration))
        let hanging = Task { try await pool.send(Self.message(1, to: "slow@example.com")) }
        #expect(try await SMTPTestWait.until { server.attempts.count == 1 })
        let started = ContinuousClock.now
        var gaveUp = false
        do {
            try await pool.send(Self.message(2))
        } catch {
            gaveUp = true
            #expect(error.description.contains("no SMTP connection came free within"))
        }
        #expect(ContinuousClock.now - started > .milliseconds(500))
        #expect(server.connections == (gaveUp ? 1 : 2))
        await #expect { try await hanging.value } throws: { error in
            (error as? SendFailure)?.description.contains("did not answer") ?? false
        }
        // The hanging connection was dropped: the next message goes on a new one.
        try await pool.send(Self.message(3))
        #expect(server.messages.map(\.messageId) == (gaveUp ? [] : ["<pool-2@karokar.test>"]) + ["<pool-3@karokar.test>"])
        let opened = await pool.opened
        #expect(server.connections == 2 && opened == 2)
        await pool.close()
    }
}

extension SMTPConnectionPoolTests {
    /// The pool's one deadline for its waiting senders: with every message hanging, the one
    /// connection stays busy for two timeouts in a row (the first message's, then the next
    /// one's on a new connection), so of two senders waiting together one gets the connection
    /// and the other gives up when its own wait ends, not when the connection comes free again.
    @Test func aWaitingSenderGivesUpAtItsDeadline() async throws {
        let server = try SMTPRecorder()
        defer { server.stop() }
        try server.behave("hang")
        var configuration = Self.configuration(server, connections: 1)
        configuration.timeout = .milliseconds(1500)
        let pool = SMTPConnectionPool(SMTPClient(configuration))
        let first = Task { try await pool.send(Self.message(1)) }
        #expect(try await SMTPTestWait.until { server.attempts.count == 1 })
        let waiting = [2, 3].map { (n: Int) -> Task<(String, Duration), Never> in
            Task { () -> (String, Duration) in
                let started = ContinuousClock.now
                do {
                    try await pool.send(Self.message(n))
                    return ("sent", ContinuousClock.now - started)
                } catch {
                    return ("\(error)", ContinuousClock.now - started)
                }
            }
        }
        var outcomes: [(String, Duration)] = []
        for task in waiting { outcomes.append(await task.value) }
        _ = try? await first.value
        let gaveUp = outcomes.filter { $0.0.contains("no SMTP connection came free within") }
        let hung = outcomes.filter { $0.0.contains("did not answer") }
        #expect(gaveUp.count == 1 && hung.count == 1, "\(outcomes)")
        // Its own 1.5 s, not the 3 s and more until the connection came free a second time.
        if let wait = gaveUp.first?.1 {
            #expect(wait >= .milliseconds(1400) && wait < .milliseconds(2900), "\(wait)")
        }
        await pool.close()
    }
}

enum SMTPTestWait {
    static func until(seconds: Double = 10, _ done: () throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if try done() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try done()
    }
}

/// Implicit TLS (SMTPS, RFC 8314) against aiosmtpd serving TLS from the first byte, with a
/// certificate made for the test (openssl), requiring AUTH: the message goes, on a pooled
/// connection too; a plain-text client, or one not trusting the certificate, sends nothing.
@Suite(.serialized)
struct SMTPImplicitTLSTests {
    @Test func implicitTLSThenAuthThenTheMessage() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("smtps-\(UUID().uuidString.prefix(8))")
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

        let server = try SMTPRecorder(arguments: ["--implicit-tls", cert, key, "--auth", "mailer:s3cret"])
        defer { server.stop() }
        var configuration = SMTPConfiguration(host: "localhost", port: server.port, from: "notifications@karokar.test")
        configuration.authentication = .password(username: "mailer", password: "s3cret")
        configuration.security = .implicitTLS(trustRootsFile: cert)
        configuration.timeout = .seconds(3)
        try await SMTPClient(configuration).send(SMTPConnectionPoolTests.message(1))
        let pool = SMTPConnectionPool(SMTPClient(configuration))
        for n in 2...4 { try await pool.send(SMTPConnectionPoolTests.message(n)) }
        await pool.close()
        #expect(server.messages.map(\.messageId) == (1...4).map { "<pool-\($0)@karokar.test>" })
        // One connection for the single message, one for the pool's three.
        #expect(server.connections == 2)

        // Plain text to a TLS port gets no SMTP greeting; not trusting the certificate, the
        // handshake fails. Nothing more is accepted.
        var plain = configuration
        plain.security = .none
        plain.timeout = .milliseconds(800)
        await #expect(throws: SendFailure.self) { try await SMTPClient(plain).send(SMTPConnectionPoolTests.message(5)) }
        var untrusting = configuration
        untrusting.security = .implicitTLS(trustRootsFile: nil)
        await #expect(throws: SendFailure.self) { try await SMTPClient(untrusting).send(SMTPConnectionPoolTests.message(6)) }
        #expect(server.messages.count == 4)
    }
}
