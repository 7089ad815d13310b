import Foundation
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import KaroKarTracing
import Logging
import Testing
import Tracing

/// Tracing (issue 20, README "Tracing"): the real server with the real tracer, its spans kept by
/// a recording exporter, or sent with OTLP/HTTP to a real local collector.
@Suite("Tracing: W3C traceparent, server, SQL and delivery spans, OTLP export")
struct TracingTests {
    static func hex(_ bytes: Int) -> String {
        let digits = Array("0123456789abcdef")
        var text = ""
        for _ in 0..<bytes {
            let byte = UInt8.random(in: 0...255)
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xf)])
        }
        return text
    }

    static func text(_ attribute: SpanAttribute?) -> String? {
        switch attribute {
        case .string(let text): text
        case .stringConvertible(let value): value.description
        case .int64(let number): "\(number)"
        case .int32(let number): "\(number)"
        default: nil
        }
    }

    static func options(traceparent: String, tracestate: String? = nil, token: String? = nil) -> CallOptions {
        var metadata = Metadata([(Metadata.Key.traceparent, traceparent)])
        if let tracestate { metadata[Metadata.Key.tracestate] = tracestate }
        if let token { metadata[Metadata.Key.authorization] = "Bearer \(token)" }
        return CallOptions(timeout: .seconds(30), metadata: metadata)
    }

    @Test("a call with a traceparent: a server span with that trace and parent, SQL spans under it, its events' deliveries in the trace, no bind values")
    func serverSQLAndDeliverySpans() async throws {
        let recorder = RecordingSpanExporter()
        let market = try await TestMarketplace.start(tracer: KaroKarTracer(exporter: recorder))
        let trace = Self.hex(16), parent = Self.hex(8)
        let email = "traced-\(Self.hex(4))@example.com"
        _ = try await market.register(
            .vendor, email: email, options: Self.options(traceparent: "00-\(trace)-\(parent)-01", tracestate: "vendor=abc,other=1")
        )
        let path = String(IdentityV1.IdentityService.Method.registerOrganization.path.dropFirst())
        let spans = await recorder.waitUntil { spans in
            spans.contains { $0.context.traceIDHex == trace && $0.kind == .server }
                && spans.contains { $0.kind == .consumer && ($0.context.traceIDHex == trace || $0.links.contains { $0.context.traceIDHex == trace }) }
        }
        let server = try #require(spans.first { $0.context.traceIDHex == trace && $0.kind == .server }, "\(spans.map(\.name))")
        #expect(server.name == path)
        #expect(server.parentSpanID.map { TraceContext(traceIDHigh: 1, traceIDLow: 1, spanID: $0, flags: 1).spanIDHex } == parent)
        #expect(server.context.traceState == "vendor=abc,other=1")
        #expect(Self.text(server.attributes.get("rpc.system")) == "karokar")
        #expect(Self.text(server.attributes.get("rpc.method")) == "RegisterOrganization")
        #expect(Self.text(server.attributes.get("rpc.karokar.status_code")) == "OK")
        #expect(Self.text(server.attributes.get("network.peer.address"))?.contains("127.0.0.1") == true)
        #expect(server.endNanoseconds >= server.startNanoseconds)

        let statements = spans.filter { $0.context.traceIDHex == trace && $0.kind == .client }
        #expect(!statements.isEmpty)
        for statement in statements where statement.parentSpanID == server.context.spanID {
            #expect(Self.text(statement.attributes.get("db.system.name")) == "postgresql")
            #expect(statement.name == Self.text(statement.attributes.get("db.operation.name")))
        }
        let direct = statements.filter { $0.parentSpanID == server.context.spanID }
        #expect(direct.contains { $0.name == "INSERT" || $0.name == "WITH" }, "\(direct.map(\.name))")
        #expect(direct.contains { $0.name == "COMMIT" }, "\(direct.map(\.name))")
        // Statements carry placeholders, never their values: neither the e-mail nor the password appears.
        for span in spans where span.context.traceIDHex == trace {
            span.attributes.forEach { key, value in
                let text = Self.text(value) ?? ""
                #expect(!text.contains(email) && !text.contains(TestMarketplace.password), "\(span.name) \(key)")
            }
        }
        // The published events' deliveries continue the trace (one event) or link to it (a batch).
        let deliveries = spans.filter { $0.kind == .consumer && ($0.context.traceIDHex == trace || $0.links.contains { $0.context.traceIDHex == trace }) }
        #expect(!deliveries.isEmpty)
        for delivery in deliveries {
            #expect(delivery.name.hasPrefix("process "))
            #expect(Self.text(delivery.attributes.get("messaging.system")) == "karokar.outbox")
            if delivery.context.traceIDHex == trace { #expect(delivery.parentSpanID == server.context.spanID) }
        }
        let rows = try await market.pool.query("SELECT count(*) AS n FROM karokar_events.outbox WHERE trace_parent LIKE \("00-" + trace + "-%")")
        #expect(try rows.single().decode(Int64.self, "n") >= 1, "the outbox rows carry the publishing call's traceparent")

        // The caller's organization, once the interceptors know it.
        let platform = try await market.platformAdmin()
        let second = Self.hex(16)
        _ = try await market.identity.listRoles(
            IdentityV1.ListRolesRequest(organizationType: .vendor), options: Self.options(traceparent: "00-\(second)-\(Self.hex(8))-01", token: platform.accessToken)
        )
        let listed = await recorder.waitUntil { $0.contains { $0.context.traceIDHex == second && $0.kind == .server } }
        let roles = try #require(listed.first { $0.context.traceIDHex == second && $0.kind == .server })
        #expect(Self.text(roles.attributes.get("karokar.organization_id")) == platform.organizationID.lowercased())
        await market.stop()
    }

    @Test("a traceparent whose sampled flag is clear: the call is served and nothing is recorded; without one, a new trace")
    func unsampledAndRoot() async throws {
        let recorder = RecordingSpanExporter()
        let server = try await TestServer.start(pool: nil, tracer: KaroKarTracer(exporter: recorder))
        let client = server.client()
        let echo = RPCV1.DiagnosticsService.Client(client)
        let trace = Self.hex(16)
        #expect(try await echo.echo(.init(payload: [1]), options: Self.options(traceparent: "00-\(trace)-\(Self.hex(8))-00")).payload == [1])
        #expect(try await echo.echo(.init(payload: [2])).payload == [2])
        let spans = await recorder.waitUntil { $0.contains { $0.kind == .server } }
        #expect(recorder.spans(inTrace: trace).isEmpty)
        let root = try #require(spans.first { $0.kind == .server })
        #expect(root.parentSpanID == nil)
        #expect(root.name == String(RPCV1.DiagnosticsService.Method.echo.path.dropFirst()))
        await client.close()
        await server.stop()
    }

    @Test("immediate methods (answered on the event loop, no task) get their span too: the caller's trace and parent, the status")
    func immediateMethodSpans() async throws {
        let recorder = RecordingSpanExporter()
        let market = try await TestMarketplace.start(tracer: KaroKarTracer(exporter: recorder))
        let echo = RPCV1.DiagnosticsService.Client(market.client)
        let trace = Self.hex(16), parent = Self.hex(8)
        #expect(try await echo.echo(.init(payload: [7]), options: Self.options(traceparent: "00-\(trace)-\(parent)-01")).payload == [7])
        // WhoAmI without a token: refused by the interceptor on the spot, still one span, its status recorded.
        let refused = Self.hex(16)
        await #expect(throws: RPCError.self) {
            _ = try await IdentityV1.IdentityService.Client(market.client).whoAmI(.init(), options: Self.options(traceparent: "00-\(refused)-\(Self.hex(8))-01"))
        }
        let spans = await recorder.waitUntil { spans in
            spans.contains { $0.context.traceIDHex == trace && $0.kind == .server } && spans.contains { $0.context.traceIDHex == refused && $0.kind == .server }
        }
        let span = try #require(spans.first { $0.context.traceIDHex == trace && $0.kind == .server })
        #expect(span.name == String(RPCV1.DiagnosticsService.Method.echo.path.dropFirst()))
        #expect(span.parentSpanID.map { TraceContext(traceIDHigh: 1, traceIDLow: 1, spanID: $0, flags: 1).spanIDHex } == parent)
        #expect(Self.text(span.attributes.get("rpc.karokar.status_code")) == "OK")
        #expect(Self.text(span.attributes.get("rpc.method")) == "Echo")
        let whoAmI = try #require(spans.first { $0.context.traceIDHex == refused && $0.kind == .server })
        #expect(Self.text(whoAmI.attributes.get("rpc.karokar.status_code")) == "UNAUTHENTICATED")
        #expect(spans.filter { $0.context.traceIDHex == trace }.count == 1, "one span per call")
        await market.stop()
    }

    @Test("the Swift client sends the current span's traceparent: the server span is its child")
    func clientPropagation() async throws {
        let recorder = RecordingSpanExporter()
        let tracer = KaroKarTracer(exporter: recorder)
        let server = try await TestServer.start(pool: nil, tracer: tracer)
        let client = server.client { $0.instrument = tracer }
        let echo = RPCV1.DiagnosticsService.Client(client)
        let span = tracer.startSpan("client work", ofKind: .client)
        _ = try await InstrumentationContext.withValue(span.context) { try await echo.echo(.init(payload: [7])) }
        span.end()
        let spans = await recorder.waitUntil { $0.contains { $0.kind == .server } }
        let served = try #require(spans.first { $0.kind == .server })
        #expect(served.context.traceIDHex == span.spanContext.traceIDHex)
        #expect(served.parentSpanID == span.spanContext.spanID)
        // Outside a span the client sends none: the server starts a trace of its own.
        _ = try await echo.echo(.init(payload: [8]))
        let later = await recorder.waitUntil { $0.filter { $0.kind == .server }.count >= 2 }
        #expect(later.filter { $0.kind == .server && $0.parentSpanID == nil }.count == 1)
        await client.close()
        await server.stop()
    }

    /// Malformed `traceparent` values: every structural rule broken once, then random mutations
    /// and random bytes (not even UTF-8).
    static func malformed(count: Int) -> [[UInt8]] {
        let trace = hex(16), span = hex(8)
        let valid = "00-\(trace)-\(span)-01"
        var values: [String] = [
            "", "00", valid + "-", valid + "x", String(valid.dropLast()), "ff-\(trace)-\(span)-01", "00-\(trace.uppercased())-\(span)-01",
            "00-\(String(repeating: "0", count: 32))-\(span)-01", "00-\(trace)-0000000000000000-01", "00_\(trace)-\(span)-01",
            "00-\(trace)_\(span)-01", "00-\(trace)-\(span)_01", "0g-\(trace)-\(span)-01", "00-\(trace)-\(span)-0g", " \(valid)",
            "00-\(trace)-\(span)-01 ", "01-\(trace)-\(span)-01x", "00-\(trace.dropLast())z-\(span)-01", String(repeating: "a", count: 8000),
            "00--\(span)-01", "00-\(trace)--01", "\u{0}\(valid.dropFirst())", "00-\(trace)-\(span)-1",
        ]
        var generator = SystemRandomNumberGenerator()
        while values.count < count {
            var bytes = Array(valid.utf8)
            switch Int.random(in: 0..<4, using: &generator) {
            case 0: bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            case 1: bytes.remove(at: Int.random(in: 0..<bytes.count, using: &generator))
            case 2: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: Int.random(in: 0...bytes.count, using: &generator))
            default: bytes = (0..<Int.random(in: 0...80, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            }
            if Self.isValid(bytes) { continue }
            values.append(String(decoding: bytes, as: UTF8.self))
            if values.count < count, !bytes.isEmpty { values.append(String(decoding: bytes, as: UTF8.self)) }
        }
        return values.map { Array($0.utf8) }
    }

    /// The W3C rules, written apart from the product's parser: two lowercase hex digits of
    /// version (not ff); version 00 is exactly 55 characters, a later one at least 55 and goes
    /// on only after a dash; lowercase hex fields; non-zero ids.
    static func isValid(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 55 else { return false }
        let head = String(decoding: bytes.prefix(55), as: UTF8.self)
        let parts = head.split(separator: "-", omittingEmptySubsequences: false)
        guard head.utf8.count == 55, parts.count == 4, parts.map(\.count) == [2, 32, 16, 2] else { return false }
        let hexDigits = Set("0123456789abcdef")
        guard parts.allSatisfy({ $0.allSatisfy { hexDigits.contains($0) } }) else { return false }
        guard parts[0] != "ff", parts[1] != Substring(String(repeating: "0", count: 32)), parts[2] != Substring(String(repeating: "0", count: 16)) else {
            return false
        }
        if parts[0] == "00" { return bytes.count == 55 }
        return bytes.count == 55 || bytes[55] == UInt8(ascii: "-")
    }

    @Test("the parser agrees with the W3C rules on 20,000 mutated and random values, and never traps")
    func parserFuzz() {
        var generator = SystemRandomNumberGenerator()
        var accepted = 0
        for _ in 0..<20_000 {
            var bytes = Array("00-\(Self.hex(16))-\(Self.hex(8))-\(Bool.random() ? "01" : "00")".utf8)
            for _ in 0..<Int.random(in: 0...2, using: &generator) {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[index] = Array("0123456789abcdefABCDEF-x0".utf8).randomElement(using: &generator)!
                case 1: bytes.remove(at: index)
                default: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: index)
                }
                if bytes.isEmpty { break }
            }
            let parsed = TraceContext.parse(traceparent: bytes, tracestate: Array("k=v".utf8))
            #expect((parsed != nil) == Self.isValid(bytes), "\(String(decoding: bytes, as: UTF8.self))")
            if let parsed {
                accepted += 1
                // The ids as sent; the version and the flags' other bits are not passed on (00, sampled bit only).
                #expect(Array(parsed.traceparent.utf8)[3..<52] == bytes[3..<52])
                #expect(parsed.sampled == (bytes[54] == UInt8(ascii: "1") || bytes[54] == UInt8(ascii: "3") || bytes[54] == UInt8(ascii: "5")
                    || bytes[54] == UInt8(ascii: "7") || bytes[54] == UInt8(ascii: "9") || bytes[54] == UInt8(ascii: "b")
                    || bytes[54] == UInt8(ascii: "d") || bytes[54] == UInt8(ascii: "f")))
                #expect(parsed.traceState == "k=v")
            }
        }
        #expect(accepted > 1000)
        // A later version: the version-00 fields, then only after a dash.
        let trace = Self.hex(16), span = Self.hex(8)
        #expect(TraceContext.parse(traceparent: "01-\(trace)-\(span)-01-more") != nil)
        #expect(TraceContext.parse(traceparent: "01-\(trace)-\(span)-01more") == nil)
        // tracestate: kept only when well formed.
        #expect(TraceContext.parse(traceparent: "00-\(trace)-\(span)-01", tracestate: "a=1, b=2")?.traceState == "a=1, b=2")
        for bad in ["=1", "a=", "a", String(repeating: "k=v,", count: 40), String(repeating: "x", count: 600) + "=1", "a=\u{7}"] {
            let context = TraceContext.parse(traceparent: "00-\(trace)-\(span)-01", tracestate: bad)
            #expect(context != nil && context?.traceState == nil, "\(bad.prefix(20))")
        }
    }

    @Test("malformed traceparent values sent to the server: every call is served, each starts a new trace, none is continued")
    func malformedAtTheServer() async throws {
        let recorder = RecordingSpanExporter()
        let server = try await TestServer.start(pool: nil, tracer: KaroKarTracer(exporter: recorder))
        let client = server.client()
        let echo = RPCV1.DiagnosticsService.Client(client)
        let values = Self.malformed(count: 300)
        for (index, value) in values.enumerated() {
            // As bytes on the wire (not every value is UTF-8), within the metadata cap.
            var metadata = Metadata()
            var total = 0
            try metadata.appendFromWire(Metadata.Key.traceparent, Array(value.prefix(4000)), total: &total, maximumBytes: 8192)
            let reply = try await echo.echo(.init(payload: [UInt8(index % 256)]), options: CallOptions(timeout: .seconds(30), metadata: metadata))
            #expect(reply.payload == [UInt8(index % 256)])
        }
        let spans = await recorder.waitUntil { $0.filter { $0.kind == .server }.count >= values.count }
        let served = spans.filter { $0.kind == .server }
        #expect(served.count == values.count)
        #expect(served.allSatisfy { $0.parentSpanID == nil }, "a malformed traceparent is ignored: every call is a root")
        #expect(Set(served.map(\.context.traceIDHex)).count == values.count)
        await client.close()
        await server.stop()
    }

    @Test("karokar-server with tracing-otlp-endpoint: a real collector receives OTLP/HTTP JSON carrying the caller's trace")
    func otlpExportFromTheServerProcess() async throws {
        let collector = try await OTLPCollector.start()
        let (pool, url) = try await TestDatabase.fresh()
        _ = try await MigrationRunner.migrate(Database.migrations, pool: pool)
        let server = try await ServerProcess.start(
            databaseURL: url, arguments: ["--set", "tracing-otlp-endpoint=\(collector.endpoint)", "--set", "tracing-service-name=traced-test"]
        )
        let client = server.client()
        let trace = Self.hex(16), parent = Self.hex(8)
        _ = try await RPCV1.DiagnosticsService.Client(client).echo(.init(payload: [9]), options: Self.options(traceparent: "00-\(trace)-\(parent)-01"))
        #expect(try await eventually { collector.requests.contains { String(decoding: $0.body, as: UTF8.self).contains(trace) } }, "\(server.log.suffix(2000))")
        let request = try #require(collector.requests.first { String(decoding: $0.body, as: UTF8.self).contains(trace) })
        #expect(request.method == "POST")
        #expect(request.path == "/v1/traces")
        #expect(request.contentType == "application/json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])
        let resourceSpans = try #require(json["resourceSpans"] as? [[String: Any]])
        let resource = try #require(resourceSpans.first?["resource"] as? [String: Any])
        let attributes = try #require(resource["attributes"] as? [[String: Any]])
        #expect(attributes.contains { ($0["key"] as? String) == "service.name" && (($0["value"] as? [String: Any])?["stringValue"] as? String) == "traced-test" })
        let spans = resourceSpans.flatMap { ($0["scopeSpans"] as? [[String: Any]] ?? []).flatMap { $0["spans"] as? [[String: Any]] ?? [] } }
        let span = try #require(spans.first { ($0["traceId"] as? String) == trace })
        #expect(span["parentSpanId"] as? String == parent)
        #expect(span["name"] as? String == String(RPCV1.DiagnosticsService.Method.echo.path.dropFirst()))
        #expect(span["kind"] as? Int == 2)
        #expect((span["spanId"] as? String)?.count == 16)
        #expect(UInt64(span["startTimeUnixNano"] as? String ?? "") != nil)
        await client.close()
        await server.stop()
        #expect(server.exitStatus == 0, "\(server.log.suffix(2000))")
        await collector.stop()
        await pool.close()
    }

    static func span(_ index: Int) -> FinishedSpan {
        FinishedSpan(
            name: "span \(index) \"quoted\"\n", kind: .internal,
            context: TraceContext(traceIDHigh: 1, traceIDLow: UInt64(index + 1), spanID: UInt64(index + 1), flags: 1), parentSpanID: nil,
            startNanoseconds: 1, endNanoseconds: 2, attributes: ["n": .int64(Int64(index)), "s": .string("\u{1}x")], events: [], links: [], status: nil
        )
    }

    @Test("the exporter: a full queue drops and counts, a refusing collector counts failures, batches respect their size")
    func exporterBounds() async throws {
        let logger = Logger(label: "test-exporter")
        let refusing = try await OTLPCollector.start(status: .serviceUnavailable)
        var configuration = OTLPHTTPExporter.Configuration(endpoint: refusing.endpoint + "/", serviceName: "bounded")
        configuration.queueCapacity = 10
        configuration.batchSize = 4
        configuration.interval = .milliseconds(50)
        let exporter = OTLPHTTPExporter(configuration: configuration, logger: logger)
        for index in 0..<25 { exporter.export(Self.span(index)) }
        #expect(exporter.droppedSpans == 15)
        #expect(exporter.queuedSpans == 10)
        let running = Task { await exporter.run() }
        #expect(try await eventually { exporter.failedSpans == 10 })
        #expect(exporter.exportedSpans == 0)
        #expect(refusing.requests.count == 3, "batches of 4, 4 and 2")
        running.cancel()
        await running.value

        let accepting = try await OTLPCollector.start()
        configuration.endpoint = accepting.endpoint + "/v1/traces"
        let second = OTLPHTTPExporter(configuration: configuration, logger: logger)
        let task = Task { await second.run() }
        for index in 0..<10 { second.export(Self.span(index)) }
        #expect(try await eventually { second.exportedSpans == 10 })
        for request in accepting.requests {
            #expect(request.path == "/v1/traces")
            #expect(try JSONSerialization.jsonObject(with: Data(request.body)) is [String: Any], "valid JSON despite quotes and control characters")
        }
        // Cancelled: what is still queued goes out before run() returns.
        second.export(Self.span(99))
        task.cancel()
        await task.value
        #expect(second.exportedSpans == 11)
        #expect(second.droppedSpans == 0 && second.failedSpans == 0)
        await refusing.stop()
        await accepting.stop()
    }

    @Test("tracing settings: off by default; endpoint, service name and ratio validated with clear errors")
    func settings() throws {
        let defaults = try OperationsSettingsTests.resolve().tracing
        #expect(defaults.otlpEndpoint == nil)
        #expect(defaults.serviceName == "karokar-server")
        #expect(defaults.sampleRatio == 1)
        let set = try OperationsSettingsTests.resolve(
            flags: ["tracing-otlp-endpoint": "http://collector:4318"], environment: ["KAROKAR_TRACING_SAMPLE_RATIO": "0.25", "KAROKAR_TRACING_SERVICE_NAME": "api"]
        ).tracing
        #expect(set.otlpEndpoint == "http://collector:4318")
        #expect(set.sampleRatio == 0.25)
        #expect(set.serviceName == "api")
        #expect(OperationsSettingsTests.error(flags: ["tracing-otlp-endpoint": "ftp://x"]).contains("is not an http:// or https:// URL"))
        #expect(OperationsSettingsTests.error(flags: ["tracing-otlp-endpoint": "http://"]).contains("is not an http:// or https:// URL"))
        #expect(OperationsSettingsTests.error(flags: ["tracing-sample-ratio": "1.5"]).contains("is not a number from 0 to 1"))
        #expect(OperationsSettingsTests.error(flags: ["tracing-sample-ratio": "nan"]).contains("is not a number from 0 to 1"))
        #expect(OperationsSettingsTests.error(flags: ["tracing-service-name": ""]).contains("tracing-service-name must be 1 to 256 bytes"))
    }

    @Test("sampling by ratio: 0 records no new trace, 1 records every one, and a sampled parent is followed whatever the ratio")
    func sampling() {
        let none = RecordingSpanExporter()
        let never = KaroKarTracer(exporter: none, sampleRatio: 0)
        for _ in 0..<100 { never.startSpan("root").end() }
        #expect(none.spans.isEmpty)
        var parent = InstrumentationContext.topLevel
        parent.traceContext = TraceContext(traceIDHigh: 5, traceIDLow: 6, spanID: 7, flags: 1)
        never.startSpan("child", context: parent).end()
        #expect(none.spans.count == 1 && none.spans.first?.parentSpanID == 7)
        let all = RecordingSpanExporter()
        let always = KaroKarTracer(exporter: all, sampleRatio: 1)
        for _ in 0..<100 { always.startSpan("root").end() }
        #expect(all.spans.count == 100)
        let half = RecordingSpanExporter()
        let some = KaroKarTracer(exporter: half, sampleRatio: 0.5)
        for _ in 0..<2000 { some.startSpan("root").end() }
        #expect((700...1300).contains(half.spans.count), "\(half.spans.count)")
    }
}
