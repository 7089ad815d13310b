import Foundation
import KaroKarTestSupport
import Testing
@testable import NotificationContext

/// PIPELINING (RFC 2920) against a real server that offers it (`SMTPSink`, SwiftNIO, in this
/// process; aiosmtpd does not offer it and stays the server of the other tests): MAIL, RCPT and
/// DATA go in one write; a refused recipient is reported as before and leaves the session in
/// step (RSET's reply is its own, the next message goes through), also with a server that wrongly
/// accepts DATA after refusing every recipient; without the extension, one command at a time.
@Suite(.serialized)
struct SMTPPipeliningTests {
    static func pool(_ port: Int) -> SMTPConnectionPool {
        var configuration = SMTPConfiguration(host: "127.0.0.1", port: port, from: "notifications@karokar.test")
        configuration.timeout = .seconds(10)
        configuration.maximumConnections = 1
        return SMTPConnectionPool(SMTPClient(configuration))
    }

    /// `body` with a pool of one connection to `sink`, both closed after, whatever happens.
    static func sending(to sink: SMTPSink, _ body: (SMTPConnectionPool) async throws -> Void) async throws {
        let pool = Self.pool(try await sink.start())
        do {
            try await body(pool)
        } catch {
            await pool.close()
            await sink.stop()
            throw error
        }
        await pool.close()
        await sink.stop()
    }

    static func message(_ n: Int, to: String = "meera@example.com") -> MailMessage {
        MailMessage(messageID: "pipe-\(n)@karokar.test", to: to, toName: "Meera", subject: "Pipelined \(n)", body: "Hello \(n).")
    }

    @Test(arguments: [false, true])
    func aRefusedRecipientLeavesTheSessionInStep(acceptsDataWithoutRecipients: Bool) async throws {
        let sink = SMTPSink(subjectPrefix: "Pipelined", acceptsDataWithoutRecipients: acceptsDataWithoutRecipients)
        try await Self.sending(to: sink) { pool in
            try await pool.send(Self.message(1))
            do throws(SendFailure) {
                try await pool.send(Self.message(2, to: "refused@example.com"))
                Issue.record("a refused recipient was reported as sent")
            } catch {
                #expect(error.isPermanent && error.description.contains("RCPT TO") && error.description.contains("550"), "\(error)")
            }
            for n in 3...5 { try await pool.send(Self.message(n)) }
            let counts = sink.counts
            #expect(counts.matching == 4 && counts.distinctMessageIDs == 4, "\(counts)")
            // One connection throughout, and the envelopes were pipelined.
            #expect(counts.connections == 1)
            #expect(sink.commandCounts.pipelined >= 2 * 4, "\(sink.commandCounts)")
        }
    }

    @Test func withoutTheExtensionOneCommandAtATime() async throws {
        let sink = SMTPSink(subjectPrefix: "Pipelined", pipelining: false)
        try await Self.sending(to: sink) { pool in
            for n in 1...3 { try await pool.send(Self.message(n)) }
            await #expect(throws: SendFailure.self) { try await pool.send(Self.message(4, to: "refused@example.com")) }
            try await pool.send(Self.message(5))
            #expect(sink.counts.matching == 4 && sink.counts.connections == 1)
            #expect(sink.commandCounts.pipelined == 0, "\(sink.commandCounts)")
        }
    }
}
