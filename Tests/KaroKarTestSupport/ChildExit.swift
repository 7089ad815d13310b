public import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// Waiting for a child process's exit without relying on Foundation alone. Foundation's `Process`
/// learns of an exit from SIGCHLD; with many children ending at once (every suite runs in one
/// process, with servers, clusters, SMTP and openssl children) one was missed: the child stayed a
/// zombie, `isRunning` stayed true, and `waitUntilExit()` spun a cooperative thread at 100% CPU
/// forever (the whole test run hung). Here, a child Foundation still reports running is reaped
/// with `waitpid(WNOHANG)`, and its status is remembered for later questions.
public enum ChildExit {
    /// How a child ended: its exit code, or the number of the signal that ended it.
    public struct Ending: Sendable, Equatable {
        public let status: Int32
        public let bySignal: Bool
    }

    private static let reaped = NIOLockedValueBox([ObjectIdentifier: Ending]())

    /// How `process` ended; nil while it runs.
    public static func ending(of process: Process) -> Ending? {
        let key = ObjectIdentifier(process)
        if let ending = reaped.withLockedValue({ $0[key] }) { return ending }
        func foundations() -> Ending? {
            process.isRunning ? nil : Ending(status: process.terminationStatus, bySignal: process.terminationReason == .uncaughtSignal)
        }
        if let ending = foundations() { return ending }
        var raw: Int32 = 0
        let pid = process.processIdentifier
        guard waitpid(pid, &raw, WNOHANG) == pid else {
            // 0: running. -1 (ECHILD): Foundation reaped it just now; `isRunning` turns false.
            return foundations()
        }
        let low = raw & 0x7f
        let ending = low == 0 ? Ending(status: (raw >> 8) & 0xff, bySignal: false) : Ending(status: low, bySignal: true)
        reaped.withLockedValue { $0[key] = ending }
        return ending
    }

    /// The exit status (the exit code, or the signal's number if a signal ended it, as
    /// `Process.terminationStatus`) once `process` has exited; nil while it runs.
    public static func status(of process: Process) -> Int32? { ending(of: process)?.status }

    public static func isRunning(_ process: Process) -> Bool { status(of: process) == nil }

    /// Blocks until `process` exits (at most `timeout`) and returns its status; nil on timeout.
    @discardableResult
    public static func wait(_ process: Process, timeout: Duration = .seconds(120)) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = status(of: process) { return status }
            if ContinuousClock.now >= deadline { return nil }
            usleep(2_000)
        }
    }

    /// Waits (suspending, not blocking a thread) until `process` exits, at most `timeout`.
    @discardableResult
    public static func wait(_ process: Process, timeout: Duration = .seconds(120)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = status(of: process) { return status }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}
