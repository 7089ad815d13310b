public import Tracing
import Synchronization

/// Receives every finished span of a sampled trace. Called on the thread that ended the span:
/// must not block (queue, and send elsewhere).
public protocol SpanExporter: Sendable {
    func export(_ span: FinishedSpan)
}

/// A span as it ended: what an exporter sends.
public struct FinishedSpan: Sendable {
    public var name: String
    public var kind: SpanKind
    public var context: TraceContext
    /// The parent's span id (local or remote); nil for a root span.
    public var parentSpanID: UInt64?
    public var startNanoseconds: UInt64
    public var endNanoseconds: UInt64
    public var attributes: SpanAttributes
    public var events: [SpanEvent]
    public var links: [(context: TraceContext, attributes: SpanAttributes)]
    public var status: SpanStatus?

    public init(
        name: String, kind: SpanKind, context: TraceContext, parentSpanID: UInt64?, startNanoseconds: UInt64, endNanoseconds: UInt64,
        attributes: SpanAttributes = [:], events: [SpanEvent] = [], links: [(context: TraceContext, attributes: SpanAttributes)] = [],
        status: SpanStatus? = nil
    ) {
        self.name = name
        self.kind = kind
        self.context = context
        self.parentSpanID = parentSpanID
        self.startNanoseconds = startNanoseconds
        self.endNanoseconds = endNanoseconds
        self.attributes = attributes
        self.events = events
        self.links = links
        self.status = status
    }
}

/// The server's tracer: swift-distributed-tracing's `Tracer`, propagating W3C Trace Context
/// (`traceparent`, `tracestate`; parsed strictly, ``TraceContext/parse(traceparent:tracestate:)``),
/// sampling root spans by ratio and following the parent's decision otherwise, and handing the
/// spans of sampled traces to an exporter (``OTLPHTTPExporter``, or a test's recorder).
///
/// Spans of traces that are not sampled still carry their context (children and outgoing calls
/// continue the trace with the sampled flag clear), but record and export nothing.
public final class KaroKarTracer: Tracer, Sendable {
    public typealias Span = KaroKarSpan

    public let exporter: any SpanExporter
    /// For root spans (no parent): the share of new traces that are sampled, 0...1.
    public let sampleRatio: Double
    private let threshold: UInt64

    public init(exporter: any SpanExporter, sampleRatio: Double = 1) {
        self.exporter = exporter
        let ratio = sampleRatio.isNaN ? 0 : min(max(sampleRatio, 0), 1)
        self.sampleRatio = ratio
        // A trace is sampled when its id's low 63 bits fall under the threshold (deterministic per id).
        self.threshold = ratio >= 1 ? UInt64.max : UInt64(ratio * Double(UInt64(1) << 63))
    }

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> InstrumentationContext, ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt
    ) -> KaroKarSpan {
        var context = context()
        let spanContext: TraceContext
        let parent = context.traceContext
        var generator = SystemRandomNumberGenerator()
        var spanID: UInt64 = 0
        while spanID == 0 { spanID = generator.next() }
        if let parent {
            spanContext = TraceContext(
                traceIDHigh: parent.traceIDHigh, traceIDLow: parent.traceIDLow, spanID: spanID, flags: parent.flags & 1,
                traceState: parent.traceState
            )
        } else {
            var high: UInt64 = 0
            var low: UInt64 = 0
            while high == 0 && low == 0 {
                high = generator.next()
                low = generator.next()
            }
            let sampled = threshold == UInt64.max || (low & ~(UInt64(1) << 63)) < threshold
            spanContext = TraceContext(traceIDHigh: high, traceIDLow: low, spanID: spanID, flags: sampled ? 1 : 0)
        }
        context.traceContext = spanContext
        return KaroKarSpan(
            name: operationName, kind: kind, context: context, spanContext: spanContext, parentSpanID: parent?.spanID,
            start: spanContext.sampled ? instant().nanosecondsSinceEpoch : 0, exporter: spanContext.sampled ? exporter : nil
        )
    }

    public func forceFlush() {}

    public func extract<Carrier, Extract: Extractor>(
        _ carrier: Carrier, into context: inout InstrumentationContext, using extractor: Extract
    ) where Extract.Carrier == Carrier {
        guard let traceparent = extractor.extract(key: "traceparent", from: carrier) else { return }
        let tracestate = extractor.extract(key: "tracestate", from: carrier)
        if let parsed = TraceContext.parse(traceparent: traceparent, tracestate: tracestate) {
            context.traceContext = parsed
        }
    }

    public func inject<Carrier, Inject: Injector>(
        _ context: InstrumentationContext, into carrier: inout Carrier, using injector: Inject
    ) where Inject.Carrier == Carrier {
        guard let trace = context.traceContext else { return }
        injector.inject(trace.traceparent, forKey: "traceparent", into: &carrier)
        if let state = trace.traceState { injector.inject(state, forKey: "tracestate", into: &carrier) }
    }
}

/// A span of ``KaroKarTracer``. Thread-safe; after ``end(at:)`` it changes no more.
public final class KaroKarSpan: Tracing.Span, Sendable {
    private struct State {
        var name: String
        var attributes: SpanAttributes = [:]
        var events: [SpanEvent] = []
        var links: [(context: TraceContext, attributes: SpanAttributes)] = []
        var status: SpanStatus?
        var ended = false
    }

    public let context: InstrumentationContext
    public let spanContext: TraceContext
    public let kind: SpanKind
    public let parentSpanID: UInt64?
    private let start: UInt64
    /// Nil when the trace is not sampled: nothing is recorded.
    private let exporter: (any SpanExporter)?
    private let state: Mutex<State>

    init(
        name: String, kind: SpanKind, context: InstrumentationContext, spanContext: TraceContext, parentSpanID: UInt64?, start: UInt64,
        exporter: (any SpanExporter)?
    ) {
        self.context = context
        self.spanContext = spanContext
        self.kind = kind
        self.parentSpanID = parentSpanID
        self.start = start
        self.exporter = exporter
        self.state = Mutex(State(name: name))
    }

    public var isRecording: Bool { exporter != nil && !state.withLock { $0.ended } }

    public var operationName: String {
        get { state.withLock { $0.name } }
        set {
            guard exporter != nil else { return }
            state.withLock { if !$0.ended { $0.name = newValue } }
        }
    }

    public var attributes: SpanAttributes {
        get { state.withLock { $0.attributes } }
        set {
            guard exporter != nil else { return }
            state.withLock { if !$0.ended { $0.attributes = newValue } }
        }
    }

    public func setStatus(_ status: SpanStatus) {
        guard exporter != nil else { return }
        state.withLock { if !$0.ended { $0.status = status } }
    }

    public func addEvent(_ event: SpanEvent) {
        guard exporter != nil else { return }
        state.withLock { if !$0.ended { $0.events.append(event) } }
    }

    public func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {
        guard exporter != nil else { return }
        var attributes = attributes
        attributes["exception.type"] = "\(type(of: error))"
        attributes["exception.message"] = "\(error)"
        addEvent(SpanEvent(name: "exception", at: instant(), attributes: attributes))
    }

    public func addLink(_ link: SpanLink) {
        guard exporter != nil, let linked = link.context.traceContext else { return }
        state.withLock { if !$0.ended { $0.links.append((linked, link.attributes)) } }
    }

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        guard let exporter else { return }
        let finished = state.withLock { state -> State? in
            guard !state.ended else { return nil }
            state.ended = true
            return state
        }
        guard let finished else { return }
        exporter.export(FinishedSpan(
            name: finished.name, kind: kind, context: spanContext, parentSpanID: parentSpanID, startNanoseconds: start,
            endNanoseconds: instant().nanosecondsSinceEpoch, attributes: finished.attributes, events: finished.events,
            links: finished.links, status: finished.status
        ))
    }
}
