import ArgumentParser
import KaroKarRPC
import KaroKarToolSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Standard output and error, and the one place that turns failures into exit statuses.
enum Console {
    static func error(_ text: String) {
        StandardError.line(text)
    }

    /// The process environment.
    static var environment: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }

    /// Runs a command's work; a ``ToolError`` exits 1, an ``RPCError`` exits 64 + its code, each
    /// after a readable message on standard error.
    static func run(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as ToolError {
            Console.error("error: \(error.message)")
            throw ExitCode(ExitStatus.localFailure)
        } catch let error as RPCError {
            Console.error("error: " + StatusText.describe(error))
            if error.code == .unauthenticated { Console.error("hint: `karokar login` stores a token for this server") }
            throw ExitCode(ExitStatus.forCode(error.code))
        }
    }
}
