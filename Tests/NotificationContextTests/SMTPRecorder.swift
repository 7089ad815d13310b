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
        /// The connection it came on (`pid-n`).
        var connection: String?
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
        ChildExit.wait(process, timeout: .seconds(30))
        try? FileManager.default.removeItem(at: directory)
    }

    /// `ok`, `refuse` (451 at RCPT), `reject` (550 at RCPT), `hang` (no answer to DATA's end),
    /// `close` (closes after DATA), `close-idle` (accepts, then closes the connection); for
    /// everyone, or per recipient; `drop-reused` (default only: 421 to MAIL on a connection that
    /// already carried a message, and closes it).
    func behave(_ fallback: String = "ok", recipients: [String: String] = [:]) throws {
        let rules: [String: Any] = ["default": fallback, "recipients": recipients]
        let data = try JSONSerialization.data(withJSONObject: rules)
        let path = directory.appendingPathComponent("behaviour.json")
        try data.write(to: directory.appendingPathComponent("behaviour.tmp"))
        _ = try? FileManager.default.removeItem(at: path)
        try FileManager.default.moveItem(at: directory.appendingPathComponent("behaviour.tmp"), to: path)
    }

    var messages: [Message] {
        lines(of: "messages").compactMap { try? JSONDecoder().decode(Message.self, from: $0) }
    }

    /// The Message-IDs of every DATA the server received (accepted or not), in order.
    var attempts: [String] {
        attemptRecords.map(\.messageId)
    }

    /// Every DATA the server received: its Message-ID and the connection it came on.
    var attemptRecords: [(messageId: String, connection: String)] {
        lines(of: "attempts").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any], let id = object["messageId"] as? String else { return nil }
            return (id, object["connection"] as? String ?? "")
        }
    }

    /// How many connections clients opened to the server.
    var connections: Int {
        lines(of: "connections").count
    }

    /// The complete lines of DIRECTORY/<kind>-*.jsonl (each server process writes its own file;
    /// a line still being written is left out).
    private func lines(of kind: String) -> [Data] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasPrefix(kind + "-") && $0.hasSuffix(".jsonl") }.sorted()
        return names.flatMap { name -> [Data] in
            guard let data = try? Data(contentsOf: directory.appendingPathComponent(name)) else { return [] }
            var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).map { Data($0) }
            if data.last != UInt8(ascii: "\n"), !lines.isEmpty { lines.removeLast() }
            return lines
        }
    }
}

struct RecorderError: Error, CustomStringConvertible {
    let description: String
}
