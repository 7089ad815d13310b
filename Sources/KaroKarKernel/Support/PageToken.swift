import Foundation
public import KaroKarRPC

/// Opaque list cursors (DOMAIN.md: "Lists page with a page size (bounded) and an opaque page
/// token; order is stable"). A token holds the sort key of the last row returned (keyset paging),
/// so pages stay stable while rows are added. Tokens carry no authority: every page query is still
/// scoped to the caller.
public enum PageToken {
    private static let separator: Character = "\u{1F}"

    /// `components`: the last row's sort key, most significant first.
    public static func encode(_ components: [String]) -> String {
        let text = "v1" + String(separator) + components.joined(separator: String(separator))
        return Data(text.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// nil for an empty token (the first page); INVALID_ARGUMENT for one this server did not make.
    public static func decode(_ token: String, components count: Int, field: String = "page.pageToken") throws(RPCError) -> [String]? {
        guard !token.isEmpty else { return nil }
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        guard token.utf8.count <= 1024, let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8) else {
            throw malformed(field)
        }
        let parts = text.split(separator: separator, omittingEmptySubsequences: false).map(String.init)
        guard parts.first == "v1", parts.count == count + 1 else { throw malformed(field) }
        return Array(parts.dropFirst())
    }

    private static func malformed(_ field: String) -> RPCError {
        RPCError.invalidArgument([.init(field: field, code: "MALFORMED", description: "not a page token from this service")])
    }
}

/// Page sizes: 0 means the method's default; above the ceiling is INVALID_ARGUMENT.
public enum PageSize {
    public static func resolve(_ requested: UInt32, default defaultSize: Int = 50, maximum: Int = 500, field: String = "page.pageSize") throws(RPCError) -> Int {
        if requested == 0 { return defaultSize }
        guard requested <= maximum else {
            throw RPCError.invalidArgument([.init(field: field, code: "OUT_OF_RANGE", description: "page size must be at most \(maximum)")])
        }
        return Int(requested)
    }
}
