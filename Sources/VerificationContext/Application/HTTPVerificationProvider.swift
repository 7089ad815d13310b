import AsyncHTTPClient
import Crypto
import Foundation
import KaroKarKernel
import NIOCore
import NIOHTTP1

/// A provider that answers over HTTP(S) (README, "The HTTP provider"): one JSON `POST` per
/// verification to a configured endpoint, authenticated with a bearer token or an HMAC-SHA256
/// signature of the body, each attempt bounded by a timeout, failed attempts (time-outs,
/// connection failures, 5xx, 408, 429, malformed answers) retried with exponential backoff.
/// The verification's id travels as `idempotency-key`: a provider asked twice (a redelivery)
/// can answer the second time without checking twice.
struct HTTPVerificationProvider: VerificationProvider {
    let configuration: HTTPProviderConfiguration
    let clock: any WallClock
    let client: HTTPClient

    init(_ configuration: HTTPProviderConfiguration, clock: any WallClock, client: HTTPClient = .shared) {
        self.configuration = configuration
        self.clock = clock
        self.client = client
    }

    var name: String { configuration.name }

    var supportedTypes: Set<VerificationType> {
        Set(configuration.types.compactMap(VerificationType.init(rawValue:)))
    }

    func check(_ request: ProviderRequest) async throws -> ProviderAnswer {
        let body = try Self.encode(request)
        var attempt = 1
        while true {
            do {
                return try await ask(body, id: request.verificationID)
            } catch let failure as ProviderFailure {
                guard attempt < configuration.attempts, failure.isWorthRetrying else { throw failure }
                try await Task.sleep(for: configuration.retryDelay(afterAttempt: attempt))
                attempt += 1
            }
        }
    }

    // MARK: - One attempt

    private func ask(_ body: [UInt8], id: UUID) async throws -> ProviderAnswer {
        var request = HTTPClientRequest(url: configuration.url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "accept", value: "application/json")
        request.headers.add(name: "idempotency-key", value: id.lowercasedString)
        switch configuration.authentication {
        case .none: break
        case .bearer(let token): request.headers.add(name: "authorization", value: "Bearer \(token)")
        case .hmac(let secret):
            let timestamp = String(clock.now().seconds)
            request.headers.add(name: "x-karokar-timestamp", value: timestamp)
            request.headers.add(name: "x-karokar-signature", value: "v1=" + Self.signature(timestamp: timestamp, body: body, secret: secret))
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        let timeout = TimeAmount(configuration.timeout)
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await client.execute(request, deadline: .now() + timeout)
            guard response.status == .ok else {
                throw ProviderFailure.status(Int(response.status.code))
            }
            bytes = try await response.body.collect(upTo: configuration.maximumAnswerBytes)
        } catch let failure as ProviderFailure {
            throw failure
        } catch let error as HTTPClientError where [.deadlineExceeded, .readTimeout, .connectTimeout].contains(error) {
            throw ProviderFailure.timedOut
        } catch is NIOTooManyBytesError {
            throw ProviderFailure.malformedAnswer("longer than \(configuration.maximumAnswerBytes) bytes")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ProviderFailure.unreachable("\(error)")
        }
        return try Self.decode(Array(buffer: bytes))
    }

    /// Hex HMAC-SHA256 of `timestamp.body` under the shared secret.
    static func signature(timestamp: String, body: [UInt8], secret: String) -> String {
        let signed = Array(timestamp.utf8) + [UInt8(ascii: ".")] + body
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Array(secret.utf8)))
        return mac.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
    }

    // MARK: - The JSON contract

    private struct Question: Encodable {
        var verificationId: String
        var subjectType: String
        var subjectId: String
        var organizationId: String
        var type: String
        var documentRefs: [String]
        var expiresAt: String?
        var notes: String
    }

    private struct Reply: Decodable {
        var decision: String
        var reference: String?
        var expiresAt: String?
        var reason: String?
    }

    static func encode(_ request: ProviderRequest) throws -> [UInt8] {
        let question = Question(
            verificationId: request.verificationID.lowercasedString, subjectType: request.subjectType.rawValue,
            subjectId: request.subjectID.lowercasedString, organizationId: request.organizationID.lowercasedString,
            type: request.type.rawValue, documentRefs: request.documentRefs, expiresAt: request.expiresAt.map(rfc3339), notes: request.notes
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(question))
    }

    /// The answer in `body`, or ``ProviderFailure/malformedAnswer(_:)``.
    static func decode(_ body: [UInt8]) throws(ProviderFailure) -> ProviderAnswer {
        let reply: Reply
        do {
            reply = try JSONDecoder().decode(Reply.self, from: Data(body))
        } catch {
            throw .malformedAnswer("not a JSON object with a decision")
        }
        guard let decision = ProviderAnswer.Decision(rawValue: reply.decision) else {
            throw .malformedAnswer("decision must be APPROVED or REJECTED")
        }
        if let reference = reply.reference, reference.count > 200 || reference.isEmpty { throw .malformedAnswer("reference must be 1 to 200 characters") }
        if let reason = reply.reason, reason.count > 2000 { throw .malformedAnswer("reason must be at most 2000 characters") }
        var expiry: Instant?
        if let text = reply.expiresAt {
            guard let instant = parseRFC3339(text), Instant.storable.contains(instant) else { throw .malformedAnswer("expiresAt is not an RFC 3339 instant") }
            expiry = instant
        }
        return ProviderAnswer(decision: decision, reference: reply.reference, expiresAt: expiry, reason: reply.reason)
    }

    static func rfc3339(_ instant: Instant) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(instant.microseconds) / 1_000_000))
    }

    static func parseRFC3339(_ text: String) -> Instant? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return Instant(date) }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text).map(Instant.init)
    }
}

extension ProviderFailure {
    /// Time-outs, connection failures, server errors, 408, 429 and malformed answers may pass;
    /// other 4xx (a wrong secret, a bad request) will not by asking again at once.
    var isWorthRetrying: Bool {
        switch self {
        case .timedOut, .unreachable, .malformedAnswer: true
        case .status(let code): code >= 500 || code == 408 || code == 429
        }
    }
}

/// One HTTP provider, as the server's settings describe it.
public struct HTTPProviderConfiguration: Sendable, Hashable {
    public enum Authentication: Sendable, Hashable {
        case none
        /// `authorization: Bearer TOKEN`.
        case bearer(String)
        /// `x-karokar-timestamp: SECONDS` and `x-karokar-signature: v1=HEX(HMAC-SHA256(secret, "SECONDS.BODY"))`.
        case hmac(String)
    }

    /// The stored names of the verification types (what `types` may hold).
    public static let typeNames: [String] = VerificationType.allCases.map(\.rawValue)

    public var name: String
    /// `http://` or `https://` endpoint.
    public var url: String
    /// Stored names of the types it checks (``typeNames``).
    public var types: [String] = ["VEHICLE_REGISTRATION", "INSURANCE", "FITNESS_CERTIFICATE"]
    public var authentication: Authentication = .none
    /// One attempt's limit.
    public var timeout: Duration = .seconds(5)
    /// Attempts per check (1 = no retry).
    public var attempts = 3
    /// Backoff before the second attempt; doubles each time, capped at ``maximumRetryDelay``.
    public var firstRetryDelay: Duration = .milliseconds(200)
    public var maximumRetryDelay: Duration = .seconds(5)
    /// Longer answers are malformed.
    public var maximumAnswerBytes = 64 * 1024

    public init(name: String, url: String) {
        self.name = name
        self.url = url
    }

    func retryDelay(afterAttempt attempt: Int) -> Duration {
        min(firstRetryDelay * (1 << min(max(attempt - 1, 0), 16)), maximumRetryDelay)
    }

    /// The longest one check can take (every attempt timing out, every backoff): kept well
    /// under a provider worker's lease (``VerificationOptions/providerLease``), so a question is
    /// not handed to a second worker meanwhile.
    public var worstCase: Duration {
        (1..<max(attempts, 1)).reduce(timeout * attempts) { $0 + retryDelay(afterAttempt: $1) }
    }
}
