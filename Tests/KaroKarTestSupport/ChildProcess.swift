public import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to its end and collects what it printed, bounded in time whatever it does.
///
/// Three ways a test run hung before this, each with `readDataToEndOfFile()`: a child that never
/// ends (the read waits forever); a child that fills the stderr pipe while the parent reads
/// stdout to its end (both wait on each other); and a daemon started elsewhere in the process at
/// the wrong moment inheriting a pipe's write end (the child ends, the pipe never reaches its end).
/// Here both pipes are read together with `poll`, reading stops once the child has exited and the
/// pipes are drained (not at end of file), and a child past its deadline is sent SIGKILL and
/// reported as timed out, with everything it had printed.
public enum ChildProcess {
    public struct Outcome: Sendable, CustomStringConvertible {
        /// The exit status (or the signal that ended it); nil when it was killed at its deadline.
        public let status: Int32?
        /// True when a signal (not its own exit) ended it.
        public let endedBySignal: Bool
        public let stdout: String
        public let stderr: String

        public var timedOut: Bool { status == nil }

        public var description: String {
            let how = status.map { endedBySignal ? "ended by signal \($0)" : "status \($0)" } ?? "killed at its deadline"
            return "\(how); stderr: \(stderr.suffix(4000)); stdout: \(stdout.suffix(2000))"
        }
    }

    /// Starts `executable` and waits for it on a thread of its own (never on the cooperative pool).
    public static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
        stdin: String? = nil, timeout: Duration = .seconds(300)
    ) async throws -> Outcome {
        let process = try start(executable, arguments, environment: environment)
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: collect(process, stdin: stdin, timeout: timeout))
            }
        }
    }

    /// The same, blocking the calling thread (for synchronous helpers off the cooperative pool).
    public static func runBlocking(
        _ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
        stdin: String? = nil, timeout: Duration = .seconds(300)
    ) throws -> Outcome {
        collect(try start(executable, arguments, environment: environment), stdin: stdin, timeout: timeout)
    }

    private struct Started {
        let process: Process
        let input: Pipe
        let output: Pipe
        let errors: Pipe
    }

    private static func start(_ executable: URL, _ arguments: [String], environment: [String: String]?) throws -> Started {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        let started = Started(process: process, input: Pipe(), output: Pipe(), errors: Pipe())
        process.standardInput = started.input
        process.standardOutput = started.output
        process.standardError = started.errors
        try process.run()
        return started
    }

    private static func collect(_ started: Started, stdin: String?, timeout: Duration) -> Outcome {
        let process = started.process
        let deadline = ContinuousClock.now + timeout
        // A child that does not read its input must not block us: the input is small, and a
        // child that ends early makes the write fail (EPIPE, ignored), not kill us (SIGPIPE is
        // ignored by the test process as by the server).
        signal(SIGPIPE, SIG_IGN)
        if let stdin { try? started.input.fileHandleForWriting.write(contentsOf: Data(stdin.utf8)) }
        try? started.input.fileHandleForWriting.close()

        var streams = [
            Stream(fd: started.output.fileHandleForReading.fileDescriptor),
            Stream(fd: started.errors.fileHandleForReading.fileDescriptor),
        ]
        var killed = false
        var exitedAt: ContinuousClock.Instant?
        while streams.contains(where: { !$0.ended }) {
            let readSomething = pollOnce(&streams, milliseconds: 50)
            if exitedAt == nil, !ChildExit.isRunning(process) { exitedAt = .now }
            // Exited and nothing more to read right now: the pipes are drained, even if some
            // other process still holds a write end. A short grace lets the last writes land.
            if let exitedAt, !readSomething, ContinuousClock.now - exitedAt > .milliseconds(200) { break }
            if !killed, ContinuousClock.now >= deadline {
                kill(process.processIdentifier, SIGKILL)
                killed = true
            }
        }
        ChildExit.wait(process, timeout: .seconds(30))
        let ending = ChildExit.ending(of: process)
        return Outcome(
            status: killed ? nil : ending?.status, endedBySignal: ending?.bySignal ?? false,
            stdout: String(decoding: streams[0].data, as: UTF8.self),
            stderr: String(decoding: streams[1].data, as: UTF8.self)
        )
    }

    private struct Stream {
        let fd: Int32
        var data = Data()
        var ended = false
    }

    /// One `poll` over the streams still open; reads what is ready. True when anything was read.
    private static func pollOnce(_ streams: inout [Stream], milliseconds: Int32) -> Bool {
        let open = streams.indices.filter { !streams[$0].ended }
        var fds = open.map { pollfd(fd: streams[$0].fd, events: Int16(POLLIN), revents: 0) }
        let ready = poll(&fds, nfds_t(fds.count), milliseconds)
        guard ready > 0 else { return false }
        var readSomething = false
        var buffer = [UInt8](repeating: 0, count: 65_536)
        for (slot, index) in open.enumerated() where fds[slot].revents != 0 {
            let count = buffer.withUnsafeMutableBytes { read(streams[index].fd, $0.baseAddress, $0.count) }
            if count > 0 {
                streams[index].data.append(contentsOf: buffer[0..<count])
                readSomething = true
            } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                streams[index].ended = true
            }
        }
        return readSomething
    }
}
