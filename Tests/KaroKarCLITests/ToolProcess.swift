import Foundation
import KaroKarTestSupport

/// Runs one of the package's built executables (`karokar`, `karokar-bench`) as a real process.
/// The blocking wait happens on its own thread, never on the cooperative pool, which the
/// in-process test servers need.
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

    static func run(
        _ tool: String, _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil
    ) async throws -> Outcome {
        let process = Process()
        process.executableURL = directory.appendingPathComponent(tool)
        process.arguments = arguments
        process.environment = environment.merging(["PATH": "/usr/bin:/bin"]) { mine, _ in mine }
        let output = Pipe(), errors = Pipe(), input = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = input
        try process.run()
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
                try? input.fileHandleForWriting.close()
                let stdout = output.fileHandleForReading.readDataToEndOfFile()
                let stderr = errors.fileHandleForReading.readDataToEndOfFile()
                let status = ChildExit.wait(process, timeout: .seconds(600)) ?? -1
                continuation.resume(returning: Outcome(
                    status: status,
                    stdout: String(decoding: stdout, as: UTF8.self),
                    stderr: String(decoding: stderr, as: UTF8.self)
                ))
            }
        }
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
