import KaroKarMessages
import KaroKarRPC
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import Testing

@Suite("Admin HTTP server: /livez, /readyz, /metrics", .timeLimit(.minutes(3)))
struct AdminServerTests {
    @Test("livez and readyz answer 200 on a serving server; readyz fails from the start of a drain, while calls are still served")
    func health() async throws {
        // A grace period long enough for a loaded CI machine to see readiness turn and still call.
        let server = try await TestServer.startWithDatabase { $0.operations.adminPort = 0; $0.limits.drainDelay = .seconds(5) }
        let (admin, port) = try await startAdmin(for: server.application)
        let live = try await HTTP.get(port: port, "/livez")
        #expect(live.status == 200)
        #expect(live.body == "ok\n")
        #expect(live.headers["connection"] == "close")
        try #require(try await eventually { try await HTTP.get(port: port, "/readyz").status == 200 })
        #expect(try await HTTP.get(port: port, "/readyz?verbose=1").body == "ready\n")

        // Connected before the drain (as a load balancer's clients are), so the grace period's
        // call does not also depend on how soon this machine gets to open a connection.
        let client = server.client()
        #expect(try await RPCV1.DiagnosticsService.Client(client).echo(.init(payload: [0])).payload == [0])
        let draining = Task { await server.application.drain() }
        try #require(try await eventually { try await HTTP.get(port: port, "/readyz").status == 503 })
        #expect(try await HTTP.get(port: port, "/readyz").body == "not ready: draining\n")
        #expect(try await HTTP.get(port: port, "/livez").status == 200, "alive while draining")
        #expect(try await RPCV1.DiagnosticsService.Client(client).echo(.init(payload: [1])).payload == [1], "served during the grace period")
        #expect(try await RPCV1.HealthService.Client(client).check(.init()).status == .notServing)
        await draining.value
        await client.close()
        await admin.close()
        await server.stop()
    }

    @Test("only GET and HEAD, no body, bounded target and request size; unknown paths are 404")
    func refusals() async throws {
        let server = try await TestServer.start { $0.operations.adminPort = 0 }
        let (admin, port) = try await startAdmin(for: server.application)
        let post = try await HTTP.exchange(port: port, Array("POST /livez HTTP/1.1\r\nHost: x\r\ncontent-length: 0\r\n\r\n".utf8))
        #expect(post.status == 405)
        #expect(post.headers["allow"] == "GET, HEAD")
        let body = try await HTTP.exchange(port: port, Array("GET /livez HTTP/1.1\r\nHost: x\r\ncontent-length: 5\r\n\r\nhello".utf8))
        #expect(body.status == 413)
        let long = try await HTTP.get(port: port, "/" + String(repeating: "a", count: 3000))
        #expect(long.status == 414)
        #expect(try await HTTP.get(port: port, "/admin").status == 404)
        let head = try await HTTP.exchange(port: port, Array("HEAD /livez HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(head.status == 200)
        #expect(head.body.isEmpty)
        // A flood of header bytes is cut off, not buffered: the connection closes with no answer
        // or an error status, never a 200.
        let flood = Array("GET /livez HTTP/1.1\r\n".utf8) + Array(repeating: Array("x-filler: \(String(repeating: "y", count: 1000))\r\n".utf8), count: 64).flatMap { $0 }
        let flooded = try await HTTP.exchange(port: port, flood + Array("\r\n".utf8))
        #expect(flooded.status != 200)
        // Garbage gets an HTTP error or a closed connection, and the server still answers after it.
        let garbage = try await HTTP.exchange(port: port, Array("\u{01}\u{02} nonsense\r\n\r\n".utf8))
        #expect(garbage.status == 0 || garbage.status == 400)
        #expect(try await HTTP.get(port: port, "/livez").status == 200)
        await admin.close()
        await server.stop()
    }

    @Test("metrics off: /metrics is 404 and the RPC server measures nothing")
    func metricsOff() async throws {
        let server = try await TestServer.start { $0.operations.adminPort = 0; $0.operations.metrics = false }
        #expect(server.application.metrics == nil)
        let (admin, port) = try await startAdmin(for: server.application)
        #expect(try await HTTP.get(port: port, "/metrics").status == 404)
        await admin.close()
        await server.stop()
    }
}
