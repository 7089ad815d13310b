import BaselineSupport
import GRPCCore
import GRPCNIOTransportHTTP2

/// Closed-loop load: `concurrency` tasks, each calling in a loop, over `connections` clients
/// (one HTTP/2 connection each).
struct GRPCLoad {
    let options: LoadOptions

    func run() async throws -> BaselineReport {
        let clients = try (0..<options.connections).map { _ in
            GRPCClient(transport: try .http2NIOPosix(target: .ipv4(address: options.host, port: options.port), transportSecurity: .plaintext))
        }
        let start = monotonicNanoseconds()
        let measureFrom = start + UInt64(options.warmup * 1e9)
        let end = measureFrom + UInt64(options.duration * 1e9)
        let payload = [UInt8](repeating: 0x61, count: options.payloadBytes)
        return try await withThrowingTaskGroup(of: LatencyRecorder?.self) { group in
            for client in clients { group.addTask { try await client.runConnections(); return nil } }
            for index in 0..<options.concurrency {
                let client = clients[index % clients.count]
                group.addTask { await Self.worker(client, payload: payload, measureFrom: measureFrom, end: end) }
            }
            let now = monotonicNanoseconds()
            if measureFrom > now { try await Task.sleep(for: .nanoseconds(Int64(measureFrom - now))) }
            let before = CPUSample.now(serverPID: options.serverPid)
            var total = LatencyRecorder()
            var workers = 0
            while let result = try await group.next() {
                guard let recorder = result else { continue }
                total.merge(recorder)
                workers += 1
                if workers == options.concurrency { break }
            }
            let after = CPUSample.now(serverPID: options.serverPid)
            for client in clients { client.beginGracefulShutdown() }
            return BaselineReport(call: "grpc-echo", options: options, recorder: total, measureFrom: measureFrom, cpuBefore: before, cpuAfter: after)
        }
    }

    private static func worker(_ client: GRPCClient<HTTP2ClientTransport.Posix>, payload: [UInt8], measureFrom: UInt64, end: UInt64) async -> LatencyRecorder {
        var recorder = LatencyRecorder()
        while true {
            let sent = monotonicNanoseconds()
            guard sent < end else { return recorder }
            let ok = (try? await client.unary(
                request: ClientRequest(message: payload), descriptor: EchoService.method,
                serializer: RawBytes(), deserializer: RawBytes(), options: .defaults
            ) { try $0.message.count == payload.count }) ?? false
            let now = monotonicNanoseconds()
            guard sent >= measureFrom else { continue }
            if ok { recorder.record(nanoseconds: now - sent, at: now) } else { recorder.recordFailure(nanoseconds: now - sent, at: now) }
        }
    }
}
