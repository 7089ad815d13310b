public import Foundation
public import KaroKarMessages
public import KaroKarPostgres
public import KaroKarRPC

/// Keyset paging on a `(timestamp, id)` sort key (`created_at, id` usually): stable while rows
/// are added, one index range per page. The token (see ``PageToken``) holds the last row's key.
///
///     let page = try Keyset.parse(request.page)
///     let rows = ... WHERE (\(page.afterTime)::timestamptz IS NULL OR (created_at, id) > (\(page.afterTime)::timestamptz, \(page.afterID)::uuid))
///                    ORDER BY created_at, id LIMIT \(page.fetchLimit)
///     let (kept, next) = page.page(rows) { ($0.createdAt, $0.id) }
public struct Keyset: Sendable, Hashable {
    public var limit: Int
    public var afterTime: PostgresTimestamp?
    public var afterID: UUID?

    public init(limit: Int, afterTime: PostgresTimestamp? = nil, afterID: UUID? = nil) {
        self.limit = limit
        self.afterTime = afterTime
        self.afterID = afterID
    }

    /// The page a request asks for: its size (0: `defaultSize`; above `maximum`: INVALID_ARGUMENT)
    /// and where it starts (a malformed token: INVALID_ARGUMENT).
    public static func parse(_ page: CommonV1.PageRequest?, defaultSize: Int = 50, maximum: Int = 500) throws(RPCError) -> Keyset {
        let limit = try PageSize.resolve(page?.pageSize ?? 0, default: defaultSize, maximum: maximum)
        guard let parts = try PageToken.decode(page?.pageToken ?? "", components: 2) else { return Keyset(limit: limit) }
        guard let micros = Int64(parts[0]), let id = UUID(hyphenated: parts[1]) else {
            throw RPCError.invalidArgument([.init(field: "page.pageToken", code: "MALFORMED", description: "not a page token from this service")])
        }
        return Keyset(limit: limit, afterTime: PostgresTimestamp(microseconds: micros), afterID: id)
    }

    /// Fetch one more row than the page holds, to know whether another page follows.
    public var fetchLimit: Int { limit + 1 }

    /// The page (of rows fetched with ``fetchLimit``) and the token of the next one.
    public func page<R>(_ rows: [R], key: (R) -> (PostgresTimestamp, UUID)) -> ([R], CommonV1.PageResponse) {
        guard rows.count > limit else { return (rows, CommonV1.PageResponse()) }
        let kept = Array(rows.prefix(limit))
        let (time, id) = key(kept[kept.count - 1])
        return (kept, CommonV1.PageResponse(nextPageToken: PageToken.encode([String(time.microseconds), id.lowercasedString])))
    }
}
