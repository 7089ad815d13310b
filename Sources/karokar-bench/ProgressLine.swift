#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KaroKarToolSupport

/// The live line on a terminal: elapsed time, calls so far, current rate, failures.
final class ProgressLine: Sendable {
    private let measureFrom: UInt64

    /// Only when standard error is a terminal (never in pipes, files or CI logs).
    static func ifTerminal(measureFrom: UInt64) -> ProgressLine? {
        isatty(STDERR_FILENO) == 1 ? ProgressLine(measureFrom: measureFrom) : nil
    }

    private init(measureFrom: UInt64) {
        self.measureFrom = measureFrom
    }

    func update(_ progress: (completed: Int, failed: Int)) {
        let now = LoadConnectionHandler.now()
        let line: String
        if now < measureFrom {
            line = "warming up… \(Self.format(Double(measureFrom - now) / 1e9))s left"
        } else {
            let seconds = Double(now - measureFrom) / 1e9
            let rate = seconds > 0 ? Double(progress.completed) / seconds : 0
            line = "\(Self.format(seconds))s  \(progress.completed) calls  \(Int(rate)) calls/s  \(progress.failed) failed"
        }
        StandardError.write("\r\u{1B}[K" + line)
    }

    func finish() {
        StandardError.write("\r\u{1B}[K")
    }

    private static func format(_ value: Double) -> String {
        String(Int(value)) + "." + String(Int(value * 10) % 10)
    }
}
