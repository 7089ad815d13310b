import Foundation
import KaroKarTestSupport

/// Runs one of the package's built executables (`karokar`, `karokar-bench`) as a real process
/// (through `ChildProcess`: its own thread, both pipes read together, bounded in time).
struct ToolProcess {
    struct Outcome: Sendable {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Next to the test binary (`.build/<triple>/debug/`), or `KAROKAR_TOOLS_DIR`.
    static var directory: URL {
        if let override = ProcessInfo.processInfo.environment["KAROKAR_TOOLS_DIR"] {
            return URL(fileURLWithPath: override)
        }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        while directory.pathExtension == "xctest" || directory.lastPathComponent == "MacOS" || directory.lastPathComponent == "Contents" {
            directory = directory.deletingLastPathComponent()
        }
        return directory
    }

    /// Runs `tool` to its end (at most five minutes: past that it is killed and the outcome's
    /// status is -1, with what it printed).
    static func run(
        _ tool: String, _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil
    ) async throws -> Outcome {
        let outcome = try await ChildProcess.run(
            directory.appendingPathComponent(tool), arguments,
            environment: environment.merging(["PATH": "/usr/bin:/bin"]) { mine, _ in mine }, stdin: stdin
        )
        let killed = outcome.timedOut ? "\n(\(tool) \(arguments.first ?? "") did not end in 300 s and was killed)" : ""
        return Outcome(status: outcome.status ?? -1, stdout: outcome.stdout, stderr: outcome.stderr + killed)
    }
}

/// A fresh directory for one test's config files, removed by `remove()`.
struct ScratchDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "karokar-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
