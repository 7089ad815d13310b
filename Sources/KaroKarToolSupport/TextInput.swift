#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Text given on the command line, from a file or from standard input.
public enum TextInput {
    /// `-` or `@-`: standard input; `@PATH`: the file; anything else is the text itself.
    public static func resolve(_ argument: String) throws(ToolError) -> String {
        if argument == "-" || argument == "@-" { return try standardInput() }
        if argument.hasPrefix("@") { return try file(String(argument.dropFirst())) }
        return argument
    }

    public static func file(_ path: String) throws(ToolError) -> String {
        guard let bytes = try SecureFile.read(path) else { throw ToolError("\(path): no such file") }
        return try text(bytes, from: path)
    }

    public static func standardInput() throws(ToolError) -> String {
        try text(SecureFile.readAll(fd: STDIN_FILENO, name: "standard input"), from: "standard input")
    }

    /// True when standard input is a terminal (a person, not a pipe or file).
    public static var standardInputIsTerminal: Bool { isatty(STDIN_FILENO) == 1 }

    private static func text(_ bytes: [UInt8], from source: String) throws(ToolError) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw ToolError("\(source) is not UTF-8 text") }
        return text
    }
}
