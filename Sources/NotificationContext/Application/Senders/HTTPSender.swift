import AsyncHTTPClient
import Crypto
import Foundation
import KaroKarKernel
import NIOCore
import NIOHTTP1

/// One HTTP endpoint that delivers SMS or push (settings `notification-sms-*`, `notification-push-*`).
public struct HTTPChannelConfiguration: Sendable, Hashable {
    public enum Authentication: Sendable, Hashable {
        case none
        /// `authorization: Bearer TOKEN`.
        case bearer(String)
        /// `x-karokar-timestamp: SECONDS` and `x-karokar-signature: v1=HEX(HMAC-SHA256(secret, "SECONDS.BODY"))`.
        case hmac(String)
    }

    /// `http://` or `https://` endpoint that takes the JSON POST.
    public var url: String
    public var authentication: Authentication = .none
    /// One attempt's limit.
    public var timeout: Duration = .seconds(5)

    public init(url: String) {
        self.url = url
    }
}

/// SMS and push through a configurable HTTP endpoint, with async-http-client: one JSON `POST`
/// per delivery (`deliveryId`, `eventId`, `eventType`, `channel`, `recipientUserId`, `to` (the
/// phone number for SMS), `title`, `text`), authenticated with a bearer token or an HMAC
/// signature, bounded by a timeout. The delivery's id travels as `idempotency-key` too: the
/// endpoint can deduplicate a delivery sent twice. 2xx is sent; time-outs, connection failures,
/// 5xx, 408 and 429 are retried; other statuses refuse the delivery for good.
struct HTTPSender: DeliverySender {
    let channel: NotificationChannel
    let configuration: HTTPChannelConfiguration
    let clock: any WallClock
    let client: HTTPClient

    init(channel: NotificationChannel, configuration: HTTPChannelConfiguration, clock: any WallClock, client: HTTPClient = .shared) {
        self.channel = channel
        self.configuration = configuration
        self.clock = clock
        self.client = client
    }

    private struct Payload: Encodable {
        var deliveryId: String
        var eventId: String
        var eventType: String
        var channel: String
        var recipientUserId: String
        var to: String?
        var title: String
        var text: String
    }

    func send(_ delivery: OutgoingDelivery) async throws(SendFailure) {
        let payload = Payload(
            deliveryId: delivery.id.lowercasedString, eventId: delivery.eventID.lowercasedString, eventType: delivery.eventType,
            channel: channel.rawValue, recipientUserId: delivery.recipientUserID.lowercasedString,
            to: delivery.address.isEmpty ? nil : delivery.address, title: delivery.title, text: delivery.shortBody
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body: [UInt8]
        do {
            body = Array(try encoder.encode(payload))
        } catch {
            throw .permanent("cannot encode the request: \(error)")
        }
        var request = HTTPClientRequest(url: configuration.url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "idempotency-key", value: delivery.id.lowercasedString)
        switch configuration.authentication {
        case .none: break
        case .bearer(let token): request.headers.add(name: "authorization", value: "Bearer \(token)")
        case .hmac(let secret):
            let timestamp = String(clock.now().seconds)
            request.headers.add(name: "x-karokar-timestamp", value: timestamp)
            request.headers.add(name: "x-karokar-signature", value: "v1=" + Self.signature(timestamp: timestamp, body: body, secret: secret))
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        let status: HTTPResponseStatus
        do {
            let response = try await client.execute(request, deadline: .now() + TimeAmount(configuration.timeout))
            status = response.status
            // The answer's body is not needed: read at most 64 KiB of it, to reuse the connection.
            _ = try? await response.body.collect(upTo: 64 * 1024)
        } catch let error as HTTPClientError where [.deadlineExceeded, .readTimeout, .connectTimeout].contains(error) {
            throw .transient("the \(channel.rawValue) endpoint did not answer within \(configuration.timeout)")
        } catch {
            throw .transient("the \(channel.rawValue) endpoint is unreachable: \(error)")
        }
        let code = Int(status.code)
        guard !(200..<300).contains(code) else { return }
        let text = "the \(channel.rawValue) endpoint answered \(code)"
        throw code >= 500 || code == 408 || code == 429 ? .transient(text) : .permanent(text)
    }

    /// Hex HMAC-SHA256 of `timestamp.body` under the shared secret.
    static func signature(timestamp: String, body: [UInt8], secret: String) -> String {
        let signed = Array(timestamp.utf8) + [UInt8(ascii: ".")] + body
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Array(secret.utf8)))
        return mac.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
    }
}
