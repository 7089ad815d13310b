import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC

/// Keyset pages over Fleet's lists: the query asks for one row more than the page, and the token
/// holds the last returned row's sort key.
struct Page: Sendable {
    let size: Int
    let token: String

    init(_ request: CommonV1.PageRequest?, maximum: Int = 200) throws(RPCError) {
        size = try PageSize.resolve(request?.pageSize ?? 0, default: 50, maximum: maximum)
        token = request?.pageToken ?? ""
    }

    /// Rows to fetch: one more than the page tells whether there is a next one.
    var fetch: Int { size + 1 }

    /// The id a by-id page continues after.
    func idCursor() throws(RPCError) -> UUID? {
        guard let parts = try PageToken.decode(token, components: 1) else { return nil }
        guard let id = UUID(hyphenated: parts[0]) else { throw malformed }
        return id
    }

    /// The (instant, id) a by-time page continues after.
    func timeCursor() throws(RPCError) -> (PostgresTimestamp, UUID)? {
        guard let parts = try PageToken.decode(token, components: 2) else { return nil }
        guard let micros = Int64(parts[0]), let id = UUID(hyphenated: parts[1]) else { throw malformed }
        return (PostgresTimestamp(microseconds: micros), id)
    }

    private var malformed: RPCError {
        RPCError.invalidArgument([.init(field: "page.pageToken", code: "MALFORMED", description: "not a page token from this service")])
    }

    /// The page's rows and the response's page, keyed by `key` of the last row.
    func cut<Row>(_ rows: [Row], key: (Row) -> [String]) -> ([Row], CommonV1.PageResponse) {
        guard rows.count > size, let last = rows.prefix(size).last else { return (rows, CommonV1.PageResponse()) }
        return (Array(rows.prefix(size)), CommonV1.PageResponse(nextPageToken: PageToken.encode(key(last))))
    }
}

extension CommonV1.Timestamp {
    var cursorText: String { String(seconds * 1_000_000 + Int64(nanos / 1000)) }
}
