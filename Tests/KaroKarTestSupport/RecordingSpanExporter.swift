public import KaroKarTracing
import Synchronization

/// A real span exporter that keeps what a ``KaroKarTracer`` finished, in memory: tests read the
/// spans a traced server made (README, "Tracing").
public final class RecordingSpanExporter: SpanExporter, Sendable {
    private let recorded = Mutex<[FinishedSpan]>([])

    public init() {}

    public func export(_ span: FinishedSpan) {
        recorded.withLock { $0.append(span) }
    }

    public var spans: [FinishedSpan] { recorded.withLock { $0 } }

    /// The spans of one trace (32 hex digits).
    public func spans(inTrace traceID: String) -> [FinishedSpan] {
        spans.filter { $0.context.traceIDHex == traceID }
    }

    /// Waits (at most `timeout`) until `condition` holds for the spans recorded so far; returns them.
    @discardableResult
    public func waitUntil(timeout: Duration = .seconds(20), _ condition: ([FinishedSpan]) -> Bool) async -> [FinishedSpan] {
        let started = ContinuousClock.now
        while ContinuousClock.now - started < timeout {
            let current = spans
            if condition(current) { return current }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return spans
    }
}
