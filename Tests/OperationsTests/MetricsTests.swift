import KaroKarMessages
import KaroKarRPC
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import Testing

@Suite("Metrics at /metrics")
struct MetricsTests {
    static let echo = RPCV1.DiagnosticsService.Method.echo.path
    static let describe = RPCV1.ReflectionService.Method.describeType.path

    @Test("calls, statuses, latency, connections, bytes, pool, events and password hashing, in a valid exposition")
    func series() async throws {
        let server = try await TestServer.startWithDatabase {
            $0.operations.adminPort = 0
            $0.operations.metricsSampleInterval = .milliseconds(200)
        }
        let (admin, port) = try await startAdmin(for: server.application)
        let client = server.client()
        let diagnostics = RPCV1.DiagnosticsService.Client(client)
        for index in 0..<25 { _ = try await diagnostics.echo(.init(payload: [UInt8(index)])) }
        for _ in 0..<3 {
            await #expect(throws: RPCError.self) { _ = try await RPCV1.ReflectionService.Client(client).describeType(.init(name: "no.such.Type")) }
        }
        // A call that goes through a task and the database: a login (password hashing too).
        _ = try await IdentityV1.IdentityService.Client(client).login(.init(email: TestIdentity.adminEmail, password: TestIdentity.adminPassword))

        let answer = try await HTTP.get(port: port, "/metrics")
        #expect(answer.status == 200)
        #expect(answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        var metrics = try Exposition(answer.body)
        #expect(metrics.types["karokar_rpc_calls_total"] == "counter")
        #expect(metrics.types["karokar_rpc_call_duration_seconds"] == "histogram")
        #expect(metrics.value("karokar_rpc_calls_total", ["method": Self.echo, "code": "OK"]) == 25)
        #expect(metrics.value("karokar_rpc_calls_total", ["method": Self.describe, "code": "NOT_FOUND"]) == 3)
        #expect(metrics.value("karokar_rpc_call_duration_seconds_count", ["method": Self.echo]) == 25)
        let buckets = metrics.samples.filter { $0.name == "karokar_rpc_call_duration_seconds_bucket" && $0.labels["method"] == Self.echo }
        #expect(buckets.count >= 10)
        #expect(buckets.map(\.value) == buckets.map(\.value).sorted(), "cumulative buckets")
        #expect(buckets.last?.labels["le"] == "+Inf")
        #expect(buckets.last?.value == 25)
        #expect((metrics.value("karokar_rpc_call_duration_seconds_sum", ["method": Self.echo]) ?? -1) > 0)
        #expect(metrics.value("karokar_rpc_connections") == 1)
        #expect((metrics.value("karokar_rpc_connections_opened_total") ?? 0) >= 1)
        #expect((metrics.value("karokar_rpc_received_bytes_total") ?? 0) > 25 * 12)
        #expect((metrics.value("karokar_rpc_sent_bytes_total") ?? 0) > 25 * 12)
        #expect(metrics.value("karokar_rpc_calls_in_flight") == 0)
        #expect(metrics.value("karokar_db_pool_size") == 10)
        #expect(metrics.value("karokar_db_pool_waiters") == 0)
        #expect((metrics.value("karokar_db_pool_acquires_total") ?? 0) > 0)
        #expect(metrics.value("karokar_db_pool_connections", ["state": "in_use"]) != nil)
        #expect(metrics.value("karokar_db_pool_acquire_wait_seconds_total") != nil)
        #expect(metrics.types["karokar_db_pool_acquire_duration_seconds"] == "histogram")
        let acquires = metrics.value("karokar_db_pool_acquires_total") ?? -1
        // Read just after the counter (the relay may lease in between): every lease is in the histogram.
        let histogramCount = metrics.value("karokar_db_pool_acquire_duration_seconds_count") ?? -1
        #expect(histogramCount >= acquires && acquires > 0)
        #expect(metrics.value("karokar_db_pool_acquire_duration_seconds_bucket", ["le": "+Inf"]) == histogramCount)
        #expect(metrics.value("karokar_password_hash_queue") == 0)
        #expect((metrics.value("karokar_password_hash_capacity") ?? 0) > 0)

        // The relay's consumers appear once sampled: pending, dead letters, lag.
        let sampled = try await eventually {
            metrics = try Exposition(try await HTTP.get(port: port, "/metrics").body)
            return !metrics.values("karokar_events_pending").isEmpty
        }
        #expect(sampled)
        let consumers = Set(metrics.samples.filter { $0.name == "karokar_events_pending" }.compactMap { $0.labels["consumer"] })
        #expect(!consumers.isEmpty)
        for consumer in consumers {
            #expect(metrics.value("karokar_events_dead_letters", ["consumer": consumer]) == 0)
            #expect(metrics.value("karokar_events_consumer_lag", ["consumer": consumer]) != nil)
            #expect(metrics.value("karokar_events_oldest_pending_age_seconds", ["consumer": consumer]) != nil)
        }
        #expect(metrics.value("karokar_events_outbox_head") != nil)
        await client.close()
        await admin.close()
        await server.stop()
    }

    @Test("calls refused before a method is chosen are counted by reason")
    func refusals() async throws {
        let server = try await TestServer.start { $0.operations.adminPort = 0 }
        let (admin, port) = try await startAdmin(for: server.application)
        let raw = try await server.raw()
        try await raw.send(Frames.hello())
        _ = await raw.next()
        try await raw.send(Frames.call(1, path: "/no.Such/Method", RPCV1.EchoRequest()))
        _ = await raw.next()
        let metrics = try Exposition(try await HTTP.get(port: port, "/metrics").body)
        #expect(metrics.value("karokar_rpc_calls_refused_total", ["reason": "bad_call"]) == 1)
        #expect(metrics.value("karokar_rpc_calls_refused_total", ["reason": "draining"]) == 0)
        #expect(metrics.values("karokar_rpc_calls_total", ["method": "/no.Such/Method"]).isEmpty, "no series per unknown path")
        await admin.close()
        await server.stop()
    }
}
