import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A small real SMTP server over SwiftNIO for the throughput benchmark: it speaks the protocol the
/// sender uses (EHLO/HELO, MAIL, RCPT, DATA with the dot-terminated body, RSET, NOOP, QUIT) and
/// keeps only what the benchmark checks: the `Message-ID`s of the messages whose subject starts
/// with `subjectPrefix`, how many messages it accepted, and the connections it saw.
/// aiosmtpd (`SMTPRecorder`) stays the server of the behaviour tests; at 4,000 messages/s it
/// needs two whole cores of Python, so on this machine it, not the server, would be measured.
final class SMTPSink: Sendable {
    private struct State {
        var messageIDs: [String: Int] = [:]
        var matching = 0
        var messages = 0
        var connections = 0
        var commands = 0
        var pipelinedCommands = 0
    }

    let subjectPrefix: String
    /// Offers PIPELINING (RFC 2920) in its EHLO reply.
    let pipelining: Bool
    /// Answers DATA with 354 even when no recipient was accepted (RFC 2920 says 554): a server
    /// the client must still end up in step with.
    let acceptsDataWithoutRecipients: Bool

    /// A recipient whose address contains "refused" is refused (550), as is DATA without an
    /// accepted recipient (554, unless `acceptsDataWithoutRecipients`).
    init(subjectPrefix: String, pipelining: Bool = true, acceptsDataWithoutRecipients: Bool = false) {
        self.subjectPrefix = subjectPrefix
        self.pipelining = pipelining
        self.acceptsDataWithoutRecipients = acceptsDataWithoutRecipients
    }

    /// Commands received in one read together with the one before them (pipelined), and the
    /// commands received in all.
    var commandCounts: (pipelined: Int, all: Int) { state.withLockedValue { ($0.pipelinedCommands, $0.commands) } }

    fileprivate func received(commands: Int) {
        state.withLockedValue { state in
            state.commands += commands
            state.pipelinedCommands += max(0, commands - 1)
        }
    }

    private let state = NIOLockedValueBox(State())
    private let channel: NIOLockedValueBox<(any Channel)?> = NIOLockedValueBox(nil)

    /// Listens on a free loopback port and returns it.
    func start() async throws -> Int {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SMTPSinkHandler(sink: self))
                }
            }
        let server = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        channel.withLockedValue { $0 = server }
        return server.localAddress!.port!
    }

    func stop() async {
        try? await channel.withLockedValue { $0 }?.close()
    }

    /// Messages accepted (250 after DATA) whose subject has the prefix, their distinct
    /// `Message-ID`s, all messages accepted, connections opened.
    var counts: (matching: Int, distinctMessageIDs: Int, all: Int, connections: Int) {
        state.withLockedValue { ($0.matching, $0.messageIDs.count, $0.messages, $0.connections) }
    }

    fileprivate func connected() { state.withLockedValue { $0.connections += 1 } }

    fileprivate func accepted(messageID: String, subject: String) {
        let matches = subject.hasPrefix(subjectPrefix)
        state.withLockedValue { state in
            state.messages += 1
            if matches {
                state.matching += 1
                state.messageIDs[messageID, default: 0] += 1
            }
        }
    }
}

private final class SMTPSinkHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A command line or a body line longer than this closes the connection (RFC 5321 allows 1,000).
    static let maximumLine = 4096
    /// A message body larger than this is refused (552) and the connection closed.
    static let maximumMessage = 1 << 20

    private let sink: SMTPSink
    private var pending = ByteBuffer()
    private var inData = false
    private var messageID = ""
    private var subject = ""
    private var messageBytes = 0
    private var recipients = 0
    private var emptyEnvelope = false

    init(sink: SMTPSink) { self.sink = sink }

    func channelActive(context: ChannelHandlerContext) {
        sink.connected()
        reply("220 sink.karokar.test ESMTP", context: context)
        context.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        pending.writeBuffer(&incoming)
        var wrote = false
        var commands = 0
        defer { sink.received(commands: commands) }
        while let line = nextLine() {
            if line.count > Self.maximumLine {
                reply("500 line too long", context: context)
                context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: nil)
                context.close(promise: nil)
                return
            }
            if inData {
                if line == "." {
                    inData = false
                    if emptyEnvelope {
                        reply("554 5.5.1 no valid recipients", context: context)
                    } else {
                        sink.accepted(messageID: messageID, subject: subject)
                        reply("250 OK queued", context: context)
                    }
                    wrote = true
                } else {
                    messageBytes += line.utf8.count + 2
                    if messageBytes > Self.maximumMessage {
                        reply("552 message too large", context: context)
                        context.flush()
                        context.close(promise: nil)
                        return
                    }
                    if messageID.isEmpty, line.count > 11, line.prefix(11).lowercased() == "message-id:" {
                        messageID = line.dropFirst(11).trimmingCharacters(in: .whitespaces)
                    } else if subject.isEmpty, line.count > 8, line.prefix(8).lowercased() == "subject:" {
                        subject = line.dropFirst(8).trimmingCharacters(in: .whitespaces)
                    }
                }
                continue
            }
            let verb = line.prefix(4).uppercased()
            commands += 1
            switch verb {
            case "EHLO":
                reply("250-sink.karokar.test\r\n250-8BITMIME\r\n\(sink.pipelining ? "250-PIPELINING\r\n" : "")250 SIZE \(Self.maximumMessage)", context: context)
            case "HELO": reply("250 sink.karokar.test", context: context)
            case "MAIL", "NOOP": reply("250 OK", context: context)
            case "RSET":
                recipients = 0
                reply("250 OK", context: context)
            case "RCPT":
                if line.contains("refused") {
                    reply("550 5.1.1 no such user", context: context)
                } else {
                    recipients += 1
                    reply("250 OK", context: context)
                }
            case "DATA" where recipients == 0 && !sink.acceptsDataWithoutRecipients:
                reply("554 5.5.1 no valid recipients", context: context)
            case "DATA":
                emptyEnvelope = recipients == 0
                recipients = 0
                inData = true
                messageID = ""
                subject = ""
                messageBytes = 0
                reply("354 end with <CRLF>.<CRLF>", context: context)
            case "QUIT":
                reply("221 bye", context: context)
                context.flush()
                context.close(promise: nil)
                return
            default: reply("502 command not implemented", context: context)
            }
            wrote = true
        }
        if pending.readableBytes > Self.maximumLine {
            context.close(promise: nil)
            return
        }
        if wrote { context.flush() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// The next CRLF-terminated line, without its CRLF; nil until one is complete.
    private func nextLine() -> String? {
        guard let end = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let length = end - pending.readerIndex
        guard var line = pending.readString(length: length) else { return nil }
        pending.moveReaderIndex(forwardBy: 1)
        if line.hasSuffix("\r") { line.removeLast() }
        if pending.readableBytes == 0 { pending.clear() } else if pending.readerIndex > 65_536 { pending.discardReadBytes() }
        return line
    }

    private func reply(_ text: String, context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count + 2)
        buffer.writeString(text)
        buffer.writeString("\r\n")
        context.write(wrapOutboundOut(buffer), promise: nil)
    }
}
