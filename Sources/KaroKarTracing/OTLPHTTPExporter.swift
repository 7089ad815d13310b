import AsyncHTTPClient
import KaroKarProto
public import Logging
import NIOCore
import Synchronization
import Tracing

/// Sends spans to an OpenTelemetry collector with OTLP/HTTP in its JSON encoding: batches
/// `POST`ed to `<endpoint>/v1/traces` as `application/json` (an
/// `ExportTraceServiceRequest`, https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding).
///
/// Ending a span only appends it to a bounded queue (never blocks, never allocates beyond the
/// bound): when the queue is full the span is dropped and counted (``droppedSpans``). ``run()``
/// sends a batch whenever ``Configuration/batchSize`` spans are waiting or
/// ``Configuration/interval`` has passed, one request at a time; a batch the collector refuses or
/// does not answer within ``Configuration/timeout`` is dropped and counted (``failedSpans``), not
/// retried: tracing never holds back the server. When ``run()`` is cancelled it sends what is
/// queued once more, within the timeout.
///
/// Why not swift-otel: README, "Tracing".
public final class OTLPHTTPExporter: SpanExporter, Sendable {
    public struct Configuration: Sendable {
        /// The collector's base URL (`http://collector:4318`); `/v1/traces` is appended unless
        /// the URL already ends with it.
        public var endpoint: String
        /// The resource's `service.name`.
        public var serviceName: String
        /// Further resource attributes (`service.instance.id`, `deployment.environment`, ...).
        public var resourceAttributes: [(key: String, value: String)] = []
        /// Spans waiting to be sent at most; beyond, new spans are dropped.
        public var queueCapacity = 8192
        /// Spans per request at most.
        public var batchSize = 512
        /// Longest a span waits in the queue before its batch goes out.
        public var interval: Duration = .seconds(1)
        /// Per request.
        public var timeout: Duration = .seconds(10)

        public init(endpoint: String, serviceName: String) {
            self.endpoint = endpoint
            self.serviceName = serviceName
        }

        /// The URL requests go to.
        public var tracesURL: String {
            var base = endpoint
            while base.hasSuffix("/") { base.removeLast() }
            return base.hasSuffix("/v1/traces") ? base : base + "/v1/traces"
        }
    }

    public let configuration: Configuration
    private let logger: Logger
    private let queue = Mutex<[FinishedSpan]>([])
    private let dropped = Atomic<Int>(0)
    private let failed = Atomic<Int>(0)
    private let sent = Atomic<Int>(0)

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Spans dropped because the queue was full.
    public var droppedSpans: Int { dropped.load(ordering: .relaxed) }
    /// Spans of batches the collector refused or did not answer.
    public var failedSpans: Int { failed.load(ordering: .relaxed) }
    /// Spans the collector accepted.
    public var exportedSpans: Int { sent.load(ordering: .relaxed) }
    /// Spans waiting to be sent.
    public var queuedSpans: Int { queue.withLock { $0.count } }

    public func export(_ span: FinishedSpan) {
        let capacity = configuration.queueCapacity
        let accepted = queue.withLock { spans -> Bool in
            guard spans.count < capacity else { return false }
            spans.append(span)
            return true
        }
        if !accepted { dropped.add(1, ordering: .relaxed) }
    }

    /// Sends batches until the task is cancelled, then what is left (within the timeout).
    public func run() async {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        var lastSend = ContinuousClock.now
        var failing = false
        while !Task.isCancelled {
            try? await Task.sleep(for: min(configuration.interval, .milliseconds(100)))
            let due = ContinuousClock.now - lastSend >= configuration.interval
            while let batch = takeBatch(ifAtLeast: due ? 1 : configuration.batchSize) {
                // A batch taken is sent from a task the cancellation does not reach: cancelled
                // mid-request, the request failed and the batch was counted lost.
                let exporter = self, wasFailing = failing
                failing = await Task { await exporter.send(batch, client: client, wasFailing: wasFailing) }.value
                lastSend = ContinuousClock.now
            }
            if due { lastSend = ContinuousClock.now }
        }
        // Cancelled: the last batches go out from a task that is not.
        let exporter = self
        let wasFailing = failing
        await Task {
            var failing = wasFailing
            while let batch = exporter.takeBatch(ifAtLeast: 1) { failing = await exporter.send(batch, client: client, wasFailing: failing) }
            try? await client.shutdown()
        }.value
    }

    private func takeBatch(ifAtLeast minimum: Int) -> [FinishedSpan]? {
        let size = configuration.batchSize
        return queue.withLock { spans -> [FinishedSpan]? in
            guard !spans.isEmpty, spans.count >= minimum else { return nil }
            let batch = Array(spans.prefix(size))
            spans.removeFirst(batch.count)
            return batch
        }
    }

    /// Sends one batch; returns whether export is failing now (`wasFailing`: it was before).
    private func send(_ batch: [FinishedSpan], client: HTTPClient, wasFailing: Bool) async -> Bool {
        var request = HTTPClientRequest(url: configuration.tracesURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: OTLPJSON.encode(batch, serviceName: configuration.serviceName, resource: configuration.resourceAttributes)))
        do {
            let response = try await client.execute(request, timeout: TimeAmount(configuration.timeout))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            guard (200..<300).contains(Int(response.status.code)) else {
                throw ExportRefused(status: Int(response.status.code))
            }
            sent.add(batch.count, ordering: .relaxed)
            if wasFailing { logger.info("trace export works again", metadata: ["url": "\(configuration.tracesURL)"]) }
            return false
        } catch {
            failed.add(batch.count, ordering: .relaxed)
            // One warning per outage, not one per batch.
            if !wasFailing {
                logger.warning("trace export failed; spans are dropped until it works", metadata: [
                    "url": "\(configuration.tracesURL)", "error": "\(error)", "spans": "\(batch.count)",
                ])
            }
            return true
        }
    }

    struct ExportRefused: Error, CustomStringConvertible {
        let status: Int
        var description: String { "the collector answered HTTP \(status)" }
    }
}

/// OTLP's JSON encoding of spans (`ExportTraceServiceRequest`): ids as lowercase hex, 64-bit
/// integers as decimal strings, enums as numbers.
public enum OTLPJSON {
    public static func encode(_ spans: [FinishedSpan], serviceName: String, resource: [(key: String, value: String)] = []) -> String {
        var resourceAttributes = SpanAttributes()
        for (key, value) in resource { resourceAttributes[key] = value }
        resourceAttributes["service.name"] = serviceName
        var out = "{\"resourceSpans\":[{\"resource\":{\"attributes\":"
        attributes(resourceAttributes, into: &out)
        out += "},\"scopeSpans\":[{\"scope\":{\"name\":\"karokar\"},\"spans\":["
        for (index, span) in spans.enumerated() {
            if index > 0 { out += "," }
            encode(span, into: &out)
        }
        out += "]}]}]}"
        return out
    }

    static func encode(_ span: FinishedSpan, into out: inout String) {
        out += "{\"traceId\":\"\(span.context.traceIDHex)\",\"spanId\":\"\(span.context.spanIDHex)\""
        if let state = span.context.traceState {
            out += ",\"traceState\":"
            string(state, into: &out)
        }
        if let parent = span.parentSpanID { out += ",\"parentSpanId\":\"\(TraceContext.hex(parent))\"" }
        out += ",\"name\":"
        string(span.name, into: &out)
        out += ",\"kind\":\(kind(span.kind)),\"startTimeUnixNano\":\"\(span.startNanoseconds)\",\"endTimeUnixNano\":\"\(span.endNanoseconds)\""
        out += ",\"attributes\":"
        attributes(span.attributes, into: &out)
        if !span.events.isEmpty {
            out += ",\"events\":["
            for (index, event) in span.events.enumerated() {
                if index > 0 { out += "," }
                out += "{\"timeUnixNano\":\"\(event.nanosecondsSinceEpoch)\",\"name\":"
                string(event.name, into: &out)
                out += ",\"attributes\":"
                attributes(event.attributes, into: &out)
                out += "}"
            }
            out += "]"
        }
        if !span.links.isEmpty {
            out += ",\"links\":["
            for (index, link) in span.links.enumerated() {
                if index > 0 { out += "," }
                out += "{\"traceId\":\"\(link.context.traceIDHex)\",\"spanId\":\"\(link.context.spanIDHex)\",\"attributes\":"
                attributes(link.attributes, into: &out)
                out += "}"
            }
            out += "]"
        }
        if let status = span.status {
            out += ",\"status\":{\"code\":\(status.code == .ok ? 1 : 2)"
            if let message = status.message {
                out += ",\"message\":"
                string(message, into: &out)
            }
            out += "}"
        }
        out += "}"
    }

    /// SPAN_KIND_INTERNAL 1, SERVER 2, CLIENT 3, PRODUCER 4, CONSUMER 5.
    static func kind(_ kind: SpanKind) -> Int {
        switch kind {
        case .internal: 1
        case .server: 2
        case .client: 3
        case .producer: 4
        case .consumer: 5
        @unknown default: 0
        }
    }

    static func attributes(_ attributes: SpanAttributes, into out: inout String) {
        out += "["
        var first = true
        var pairs: [(String, SpanAttribute)] = []
        attributes.forEach { pairs.append(($0, $1)) }
        for (key, attribute) in pairs.sorted(by: { $0.0 < $1.0 }) {
            if !first { out += "," }
            first = false
            out += "{\"key\":"
            string(key, into: &out)
            out += ",\"value\":"
            value(attribute, into: &out)
            out += "}"
        }
        out += "]"
    }

    static func value(_ attribute: SpanAttribute, into out: inout String) {
        func array(_ values: [SpanAttribute]) {
            out += "{\"arrayValue\":{\"values\":["
            for (index, element) in values.enumerated() {
                if index > 0 { out += "," }
                value(element, into: &out)
            }
            out += "]}}"
        }
        switch attribute {
        case .int32(let number): out += "{\"intValue\":\"\(number)\"}"
        case .int64(let number): out += "{\"intValue\":\"\(number)\"}"
        case .double(let number) where number.isFinite: out += "{\"doubleValue\":\(number)}"
        case .double(let number): out += "{\"stringValue\":\"\(number)\"}"
        case .bool(let flag): out += "{\"boolValue\":\(flag)}"
        case .string(let text):
            out += "{\"stringValue\":"
            string(text, into: &out)
            out += "}"
        case .int32Array(let numbers): array(numbers.map { .int32($0) })
        case .int64Array(let numbers): array(numbers.map { .int64($0) })
        case .doubleArray(let numbers): array(numbers.map { .double($0) })
        case .boolArray(let flags): array(flags.map { .bool($0) })
        case .stringArray(let texts): array(texts.map { .string($0) })
        case .stringConvertible(let value):
            out += "{\"stringValue\":"
            string(value.description, into: &out)
            out += "}"
        case .stringConvertibleArray(let values): array(values.map { .string($0.description) })
        default: out += "{}"
        }
    }

    /// A JSON string literal (``JSONString``).
    static func string(_ text: String, into out: inout String) {
        JSONString.append(text, to: &out)
    }
}
