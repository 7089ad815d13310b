import Foundation
import NIOCore
import NIOSSL

/// One SMTP reply: its code and its lines' texts (after the code).
struct SMTPReply: Sendable, Hashable {
    var code: Int
    var lines: [String]

    var text: String { "\(code) " + lines.joined(separator: " / ") }
}

/// One connection's dialogue: commands and replies, each bounded by the timeout.
struct SMTPSession: Sendable {
    let channel: any Channel
    let reader: SMTPReplyReader
    let timeout: Duration

    func reply(step: String) async throws -> SMTPReply {
        let loop = channel.eventLoop
        let promise = loop.makePromise(of: SMTPReply.self)
        let reader = reader
        loop.execute { reader.next(promise) }
        let timer = loop.scheduleTask(in: TimeAmount(timeout)) {
            promise.fail(SendFailure.transient("the SMTP server did not answer \(step) within \(timeout)"))
        }
        defer { timer.cancel() }
        return try await promise.futureResult.get()
    }

    func write(_ text: String, step: String) async throws {
        let loop = channel.eventLoop
        let promise = loop.makePromise(of: Void.self)
        let timer = loop.scheduleTask(in: TimeAmount(timeout)) {
            promise.fail(SendFailure.transient("the SMTP server did not take \(step) within \(timeout)"))
        }
        defer { timer.cancel() }
        channel.writeAndFlush(ByteBuffer(string: text)).cascade(to: promise)
        do {
            try await promise.futureResult.get()
        } catch let failure as SendFailure {
            throw failure
        } catch {
            throw SendFailure.transient("the connection failed sending \(step): \(error)")
        }
    }

    func command(_ line: String, step: String, secret: Bool = false) async throws -> SMTPReply {
        try await write(line + "\r\n", step: secret ? "credentials" : step)
        return try await reply(step: step)
    }

    func expect(_ codes: [Int], step: String) async throws {
        try require(try await reply(step: step), codes, step: step)
    }

    func require(_ reply: SMTPReply, _ codes: [Int], step: String, permanentOn5xx: Bool = false) throws {
        guard !codes.contains(reply.code) else { return }
        let text = "the SMTP server refused \(step): \(reply.text)"
        let failure = permanentOn5xx && (500..<600).contains(reply.code) ? SendFailure.permanent(text) : SendFailure.transient(text)
        throw SMTPRefusal(code: reply.code, failure: failure)
    }

    /// Puts TLS under the dialogue (after the server's 220 to STARTTLS); a failed handshake fails
    /// the next step.
    func startTLS(_ context: NIOSSLContext, serverHostname: String?) async throws {
        let channel = channel
        do {
            try await channel.eventLoop.submit {
                let handler = try NIOSSLClientHandler(context: context, serverHostname: serverHostname)
                try channel.pipeline.syncOperations.addHandler(handler, position: .first)
            }.get()
        } catch {
            throw SendFailure.transient("cannot start TLS: \(error)")
        }
    }

    /// Back into the pool (see ``SMTPReplyReader/park()``).
    func park() {
        let reader = reader
        channel.eventLoop.execute { reader.park() }
    }

    /// Out of the pool: whether the connection is still good (open, nothing said while parked).
    func unpark() async -> Bool {
        guard channel.isActive else { return false }
        let reader = reader
        return (try? await channel.eventLoop.submit { reader.unpark() }.get()) ?? false
    }

    /// Says goodbye (briefly: the message is sent already) and closes.
    func quit() async {
        _ = try? await command("QUIT", step: "QUIT")
        try? await channel.close()
    }
}

/// Reads SMTP replies off the connection: bounded lines (4 KiB) and replies (100 lines); a
/// longer one, a malformed one or the connection closing fails the waiting step.
final class SMTPReplyReader: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    static let maximumLineBytes = 4096
    static let maximumLines = 100

    /// Replies read ahead of their step (the dialogue waits for each reply before the next
    /// command, so at most one is legitimately early).
    static let maximumReadyReplies = 4

    // Touched on the channel's event loop only.
    private var buffer = ByteBuffer()
    private var lines: [String] = []
    private var ready: [SMTPReply] = []
    private var failure: (any Error)?
    private var waiter: EventLoopPromise<SMTPReply>?
    /// Between transactions (the connection is in the pool): anything the server says then (a
    /// 421 before it closes an idle connection) makes the connection unusable.
    private var idle = false

    /// The connection goes back to the pool: no step is waiting and no reply is owed.
    func park() {
        idle = true
        if !ready.isEmpty, failure == nil { failure = SendFailure.transient("the SMTP server spoke out of turn: \(ready[0].text.prefix(100))") }
    }

    /// The connection leaves the pool for a transaction: whether it is still good (nothing was
    /// said while it was parked, it did not fail or close).
    func unpark() -> Bool {
        idle = false
        return failure == nil && ready.isEmpty && lines.isEmpty && buffer.readableBytes == 0
    }

    func next(_ promise: EventLoopPromise<SMTPReply>) {
        if !ready.isEmpty {
            promise.succeed(ready.removeFirst())
        } else if let failure {
            promise.fail(failure)
        } else {
            waiter = promise
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        buffer.writeBuffer(&bytes)
        while let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - buffer.readerIndex + 1
            guard length <= Self.maximumLineBytes, let line = buffer.readString(length: length) else {
                return fail(SendFailure.transient("the SMTP server sent a line longer than \(Self.maximumLineBytes) bytes"), context)
            }
            guard line.utf8.count >= 4, let code = Int(line.prefix(3)), (200..<600).contains(code) || (100..<200).contains(code) else {
                return fail(SendFailure.transient("the SMTP server sent a malformed reply: \(line.prefix(100))"), context)
            }
            let separator = line.dropFirst(3).first
            lines.append(String(line.dropFirst(4)).trimmingCharacters(in: .whitespacesAndNewlines))
            guard lines.count <= Self.maximumLines else {
                return fail(SendFailure.transient("the SMTP server sent a reply longer than \(Self.maximumLines) lines"), context)
            }
            if separator != "-" {
                let reply = SMTPReply(code: code, lines: lines)
                lines = []
                if let waiter {
                    self.waiter = nil
                    waiter.succeed(reply)
                } else if idle {
                    return fail(SendFailure.transient("the SMTP server spoke out of turn: \(reply.text.prefix(100))"), context)
                } else {
                    ready.append(reply)
                    guard ready.count <= Self.maximumReadyReplies else {
                        return fail(SendFailure.transient("the SMTP server sent replies nobody asked for"), context)
                    }
                }
            }
        }
        if buffer.readableBytes > Self.maximumLineBytes {
            fail(SendFailure.transient("the SMTP server sent a line longer than \(Self.maximumLineBytes) bytes"), context)
        }
        buffer.discardReadBytes()
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(SendFailure.transient("the SMTP server closed the connection"), context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(SendFailure.transient("SMTP connection error: \(error)"), context)
    }

    private func fail(_ error: any Error, _ context: ChannelHandlerContext) {
        if failure == nil { failure = error }
        if let waiter {
            self.waiter = nil
            waiter.fail(error)
        }
        context.close(promise: nil)
    }
}
