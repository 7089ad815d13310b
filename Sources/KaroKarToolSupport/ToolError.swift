/// A failure of a command-line tool before or around a call: bad input, an unreadable file, an
/// unknown method. Tools print `message` and exit with status 1 (RPC failures exit with
/// ``ExitStatus/forCode(_:)`` instead).
public struct ToolError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
