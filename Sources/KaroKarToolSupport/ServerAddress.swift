/// `HOST:PORT` as the tools take it: `127.0.0.1:7420`, `localhost:7500`, `[::1]:7420`.
public struct ServerAddress: Hashable, Sendable, CustomStringConvertible {
    public static let defaultPort = 7420
    public static let `default` = ServerAddress(host: "127.0.0.1", port: defaultPort)

    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`, `[IPv6]:PORT`, or a bare `HOST` (port 7420).
    public init(parsing text: String) throws(ToolError) {
        let (host, portText) = try Self.split(text)
        guard !host.isEmpty else { throw ToolError("address \"\(text)\" has no host; expected HOST:PORT") }
        guard let portText else {
            self.init(host: host, port: Self.defaultPort)
            return
        }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw ToolError("address \"\(text)\" has an invalid port; expected HOST:PORT with a port in 1...65535")
        }
        self.init(host: host, port: port)
    }

    private static func split(_ text: String) throws(ToolError) -> (String, Substring?) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw ToolError("address \"\(text)\" has an unclosed [") }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty || rest.hasPrefix(":") else { throw ToolError("address \"\(text)\": expected :PORT after ]") }
            return (host, rest.isEmpty ? nil : rest.dropFirst())
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw ToolError("address \"\(text)\": write IPv6 hosts in brackets, [::1]:7420") }
        return (String(parts[0]), parts.count == 2 ? parts[1] : nil)
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
