import KaroKarTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A bare HTTP/1.1 exchange over a real TCP connection: sends `request` as it is, reads until the
/// answer is complete or the server closes (the admin server answers once and closes), and splits
/// the answer.
struct HTTPAnswer: Sendable {
    let status: Int
    let headers: [String: String]
    let body: String
}

enum HTTP {
    static func get(port: Int, _ path: String) async throws -> HTTPAnswer {
        try await exchange(port: port, Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
    }

    static func exchange(port: Int, _ request: [UInt8]) async throws -> HTTPAnswer {
        let raw = try await rawExchange(port: port, request)
        return parse(raw)
    }

    /// Everything the server sent before closing.
    static func rawExchange(port: Int, _ request: [UInt8]) async throws -> [UInt8] {
        let collector = Collector(headOnly: request.starts(with: Array("HEAD ".utf8)))
        let channel = try await ClientBootstrap(group: TestServer.group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        channel.writeAndFlush(channel.allocator.buffer(bytes: request), promise: nil)
        // The server closes after its answer, or within its request timeout (10 s); a test waits
        // no longer than this for either, and says what it had.
        let expired = NIOLockedValueBox(false)
        let limit = channel.eventLoop.scheduleTask(in: .seconds(30)) {
            expired.withLockedValue { $0 = true }
            channel.close(promise: nil)
        }
        try await channel.closeFuture.get()
        limit.cancel()
        guard expired.withLockedValue({ $0 }) else { return collector.bytes }
        throw ExchangeTimeout(request: String(decoding: request.prefix(80), as: UTF8.self), received: collector.bytes.count)
    }

    struct ExchangeTimeout: Error, CustomStringConvertible {
        let request: String
        let received: Int
        var description: String { "the admin server neither answered nor closed within 30 s (\(received) bytes received; request \(request.debugDescription))" }
    }

    static func parse(_ raw: [UInt8]) -> HTTPAnswer {
        let text = String(decoding: raw, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return HTTPAnswer(status: 0, headers: [:], body: text) }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let status = lines.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return HTTPAnswer(status: status, headers: headers, body: String(text[split.upperBound...]))
    }

    /// Collects the answer; once it is complete (its head, and `content-length` bytes of body
    /// unless the request was HEAD) the exchange is over: the client closes, as an HTTP/1.1
    /// client may after a `connection: close` answer, without waiting for the server's FIN.
    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        private let received = NIOLockedValueBox<[UInt8]>([])
        let headOnly: Bool

        init(headOnly: Bool) { self.headOnly = headOnly }

        var bytes: [UInt8] { received.withLockedValue { $0 } }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            let all = received.withLockedValue { $0 += buffer.readableBytesView; return $0 }
            if Collector.isComplete(all, headOnly: headOnly) { context.close(promise: nil) }
        }

        static func isComplete(_ bytes: [UInt8], headOnly: Bool) -> Bool {
            let text = String(decoding: bytes, as: UTF8.self)
            guard let end = text.range(of: "\r\n\r\n") else { return false }
            if headOnly { return true }
            let head = text[..<end.lowerBound].lowercased()
            guard let line = head.components(separatedBy: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
                  let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
            else { return false }
            return text[end.upperBound...].utf8.count >= length
        }
    }
}
