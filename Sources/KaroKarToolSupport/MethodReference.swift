/// A method named on the command line: `SERVICE/METHOD` or the wire path `/SERVICE/METHOD`,
/// e.g. `karokar.rpc.v1.DiagnosticsService/Echo`.
public struct MethodReference: Hashable, Sendable, CustomStringConvertible {
    /// Fully qualified service name.
    public let service: String
    /// Short method name.
    public let method: String

    public init(service: String, method: String) {
        self.service = service
        self.method = method
    }

    public init(parsing text: String) throws(ToolError) {
        let trimmed = text.hasPrefix("/") ? text.dropFirst() : Substring(text)
        let parts = trimmed.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw ToolError("\"\(text)\" is not SERVICE/METHOD (for example karokar.rpc.v1.DiagnosticsService/Echo)")
        }
        self.init(service: String(parts[0]), method: String(parts[1]))
    }

    /// The value of `Call.method`: `/service/method`.
    public var path: String { "/\(service)/\(method)" }

    public var description: String { "\(service)/\(method)" }
}
