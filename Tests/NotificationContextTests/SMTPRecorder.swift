import Foundation
import KaroKarTestSupport

/// A real SMTP server (Python's aiosmtpd, Deploy/smtp-recorder.py) on a free loopback port,
/// recording every message it accepts, with a behaviour file to make it refuse, hang or close.
final class SMTPRecorder: @unchecked Sendable {
    struct Message: Decodable, Sendable {
        var from: String
        var to: [String]
        var messageId: String
        var subject: String
        var headers: [String: String]
        var body: String
    }

    let directory: URL
    let port: Int
    private let process: Process
    private let input: Pipe

    static let script = SourceTree.root.appendingPathComponent("Deploy/smtp-recorder.py").path

    init(arguments: [String] = []) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script, directory.path] + arguments
        input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        // The first line is the port (Python starts slowly on a loaded machine: up to 60 s).
        var line = Data()
        let handle = output.fileHandleForReading
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw RecorderError(description: "smtp-recorder.py did not start (is aiosmtpd installed? Deploy/install-deps.sh)")
        }
        self.port = port
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        // SIGKILL: a child of the test process may inherit SIGTERM blocked, and the pipe's other
        // end may be held open by other children (servers, clusters).
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }

    /// `ok`, `refuse` (451 at RCPT), `reject` (550 at RCPT), `hang` (no answer to DATA's end),
    /// `close` (closes after DATA); for everyone, or per recipient.
    func behave(_ fallback: String = "ok", recipients: [String: String] = [:]) throws {
        let rules: [String: Any] = ["default": fallback, "recipients": recipients]
        let data = try JSONSerialization.data(withJSONObject: rules)
        let path = directory.appendingPathComponent("behaviour.json")
        try data.write(to: directory.appendingPathComponent("behaviour.tmp"))
        _ = try? FileManager.default.removeItem(at: path)
        try FileManager.default.moveItem(at: directory.appendingPathComponent("behaviour.tmp"), to: path)
    }

    var messages: [Message] {
        let folder = directory.appendingPathComponent("messages")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        return names.compactMap { name in
            (try? Data(contentsOf: folder.appendingPathComponent(name))).flatMap { try? JSONDecoder().decode(Message.self, from: $0) }
        }
    }

    /// The Message-IDs of every DATA the server received (accepted or not), in order.
    var attempts: [String] {
        let text = (try? String(contentsOf: directory.appendingPathComponent("attempts.jsonl"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["messageId"] as? String
        }
    }
}

struct RecorderError: Error, CustomStringConvertible {
    let description: String
}
