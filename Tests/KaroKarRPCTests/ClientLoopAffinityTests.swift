import KaroKarMessages
@testable import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import NIOCore
import NIOPosix
import Testing

/// A caller running on one of the client's event loops (``EventLoopExecutor``) is given a
/// connection of that loop, so its calls never leave the thread; other callers take the
/// connections in turn, as before.
@Suite("RPCClient: callers on an event loop use that loop's connections")
struct ClientLoopAffinityTests {
    @Test func callersOnALoopUseItsConnections() async throws {
        let (server, address) = try await SlowEchoService().startServer(limits: ServerLimits())
        // The client's own two loops: its four connections alternate between them.
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var configuration = RPCClient.Configuration(host: "127.0.0.1", port: address.port!)
        configuration.connections = 4
        let client = RPCClient(configuration: configuration, group: loops)
        let echo = RPCV1.DiagnosticsService.Client(client)
        for n in 0..<4 { _ = try await echo.echo(.init(payload: [UInt8(n)])) }
        let executors = EventLoopExecutor.all(of: loops)
        #expect(executors.count == 2)

        // Off the loops: every connection in turn, on both loops.
        var seen: [ObjectIdentifier] = []
        for _ in 0..<8 { seen.append(ObjectIdentifier(try await client.connection().channel.eventLoop)) }
        #expect(Set(seen).count == 2, "round robin over both loops' connections")

        for executor in executors {
            let loop = executor.loop
            let outcome = try await Task(executorPreference: executor) { () async throws -> (loops: Set<ObjectIdentifier>, onLoop: Bool) in
                var used: Set<ObjectIdentifier> = []
                var onLoop = true
                for n in 0..<20 {
                    used.insert(ObjectIdentifier(try await client.connection().channel.eventLoop))
                    let reply = try await echo.echo(.init(payload: [UInt8(n)]))
                    onLoop = onLoop && loop.inEventLoop && reply.payload == [UInt8(n)]
                }
                return (used, onLoop)
            }.value
            #expect(outcome.loops == [ObjectIdentifier(loop)], "only its own loop's connections")
            #expect(outcome.onLoop, "answered, and resumed on its loop")
        }
        await client.close()
        await server.close()
        try await loops.shutdownGracefully()
    }
}
