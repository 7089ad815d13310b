import Crypto
public import Foundation
import ExtrasBase64
import NIOConcurrencyHelpers
public import KaroKarMessages
public import KaroKarRPC

/// Keyset paging (DOMAIN.md section 2, "Lists page with a page size (bounded) and an opaque page
/// token; order is stable"): a page asks for one row more than it returns, and its token holds the
/// last returned row's sort key, so pages stay stable while rows are added.
///
/// Tokens are opaque and tamper-evident: the key, the list it belongs to and a version, sealed
/// with an HMAC under a secret all server processes share (``PageTokens``). A token that was not
/// made by this service for this list, or whose key is out of range, is INVALID_ARGUMENT; a token
/// carries no authority (every page query is still scoped to the caller).
///
///     let page = try Page<TimeKey>(request.page, list: "identity.members", tokens: tokens)
///     let rows = try await store.list(..., after: page.after, limit: page.fetchLimit)
///     let (kept, next) = page.cut(rows) { TimeKey($0.createdAt, $0.id) }
public struct Page<Key: PageKey>: Sendable {
    /// Rows the page returns.
    public let size: Int
    /// The sort key the page continues after; nil for the first page.
    public let after: Key?
    let list: String
    let tokens: PageTokens

    /// The page a request asks for: its size (0: `defaultSize`; above `maximum`: INVALID_ARGUMENT)
    /// and where it starts (a token not made for `list`: INVALID_ARGUMENT).
    public init(
        _ request: CommonV1.PageRequest?, list: String, tokens: PageTokens, defaultSize: Int = 50, maximum: Int = 500
    ) throws(RPCError) {
        let requested = request?.pageSize ?? 0
        guard requested <= maximum else {
            throw RPCError.invalidArgument([.init(field: "page.pageSize", code: "OUT_OF_RANGE", description: "page size must be at most \(maximum)")])
        }
        size = requested == 0 ? defaultSize : Int(requested)
        self.list = list
        self.tokens = tokens
        let token = request?.pageToken ?? ""
        guard !token.isEmpty else {
            after = nil
            return
        }
        guard let components = tokens.open(token, list: list), let key = Key(pageTokenComponents: components) else {
            throw RPCError.invalidArgument([.init(field: "page.pageToken", code: "MALFORMED", description: "not a page token of this list")])
        }
        after = key
    }

    /// Fetch one more row than the page holds, to know whether another page follows.
    public var fetchLimit: Int { size + 1 }

    /// The page (of rows fetched with ``fetchLimit``) and the token of the next one.
    public func cut<Row>(_ rows: [Row], key: (Row) -> Key) -> ([Row], CommonV1.PageResponse) {
        guard rows.count > size, let last = rows.prefix(size).last else { return (rows, CommonV1.PageResponse()) }
        return (Array(rows.prefix(size)), CommonV1.PageResponse(nextPageToken: tokens.seal(key(last).pageTokenComponents, list: list)))
    }
}

/// A list's sort key, as its page token carries it.
public protocol PageKey: Sendable {
    var pageTokenComponents: [String] { get }
    /// Nil for components that are not a valid key (out of range included).
    init?(pageTokenComponents: [String])
}

/// The most common sort key: a time and an id (`created_at, id`).
public struct TimeKey: PageKey, Hashable {
    public let time: Instant
    public let id: UUID

    public init(_ time: Instant, _ id: UUID) {
        self.time = time
        self.id = id
    }

    public var pageTokenComponents: [String] { [String(time.microseconds), id.lowercasedString] }

    public init?(pageTokenComponents parts: [String]) {
        guard parts.count == 2, let micros = Int64(parts[0]), Instant.storable.contains(Instant(microseconds: micros)),
              let id = UUID(hyphenated: parts[1])
        else { return nil }
        self.init(Instant(microseconds: micros), id)
    }
}

extension UUID: PageKey {
    public var pageTokenComponents: [String] { [lowercasedString] }

    public init?(pageTokenComponents parts: [String]) {
        guard parts.count == 1, let id = UUID(hyphenated: parts[0]) else { return nil }
        self = id
    }
}

extension Int64: PageKey {
    public var pageTokenComponents: [String] { [String(self)] }

    public init?(pageTokenComponents parts: [String]) {
        guard parts.count == 1, let value = Int64(parts[0]) else { return nil }
        self = value
    }
}

extension String: PageKey {
    public var pageTokenComponents: [String] { [self] }

    public init?(pageTokenComponents parts: [String]) {
        guard parts.count == 1 else { return nil }
        self = parts[0]
    }
}

extension Instant {
    /// What PostgreSQL's `timestamptz` can hold, and more than any business rule needs: years
    /// 1900 to 9999. A sort key outside this never came from a row.
    public static let storable = Instant(microseconds: -2_208_988_800_000_000)...Instant(microseconds: 253_402_300_799_999_999)
}

/// Seals and opens page tokens with a secret the server processes of one database share. Made
/// with a random secret of its own; the server installs the shared one (``ServerSecrets``) at
/// start, before it accepts calls, so that a token made by one instance is honoured by another.
public final class PageTokens: Sendable {
    private let key: NIOLockedValueBox<SymmetricKey>
    private static let version: UInt8 = 2
    private static let tagBytes = 16
    private static let separator: UInt8 = 0x1F
    /// Longer tokens are refused before any work is done on them.
    static let maximumTokenBytes = 1024

    public init(secret: [UInt8] = PageTokens.randomSecret()) {
        precondition(secret.count >= 32, "a page-token secret has at least 32 bytes")
        key = NIOLockedValueBox(SymmetricKey(data: secret))
    }

    /// Replaces the secret (tokens sealed under the previous one stop opening).
    public func install(secret: [UInt8]) {
        precondition(secret.count >= 32, "a page-token secret has at least 32 bytes")
        key.withLockedValue { $0 = SymmetricKey(data: secret) }
    }

    public static func randomSecret() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// base64url(version | list | 0x1F | components joined by 0x1F | HMAC-SHA256(first part)[0..<16]).
    func seal(_ components: [String], list: String) -> String {
        var body: [UInt8] = [Self.version]
        body += Array(list.utf8)
        for component in components {
            body.append(Self.separator)
            body += Array(component.utf8)
        }
        let tag = HMAC<SHA256>.authenticationCode(for: body, using: key.withLockedValue { $0 })
        body += Array(tag).prefix(Self.tagBytes)
        return Base64.encodeToString(bytes: body, options: [.base64UrlAlphabet, .omitPaddingCharacter])
    }

    /// The components of a token sealed for `list`; nil for anything else.
    func open(_ token: String, list: String) -> [String]? {
        guard token.utf8.count <= Self.maximumTokenBytes,
              let bytes = try? Base64.decode(string: token, options: [.base64UrlAlphabet, .omitPaddingCharacter]),
              bytes.count > 1 + Self.tagBytes, bytes[0] == Self.version
        else { return nil }
        let body = bytes.prefix(bytes.count - Self.tagBytes)
        let expected = Array(HMAC<SHA256>.authenticationCode(for: body, using: key.withLockedValue { $0 })).prefix(Self.tagBytes)
        // Constant time: every byte compared whatever the first difference.
        guard zip(expected, bytes.suffix(Self.tagBytes)).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0 else { return nil }
        let parts = body.dropFirst().split(separator: Self.separator, omittingEmptySubsequences: false)
        guard let name = parts.first, name.elementsEqual(list.utf8) else { return nil }
        return parts.dropFirst().map { String(decoding: $0, as: UTF8.self) }
    }
}
