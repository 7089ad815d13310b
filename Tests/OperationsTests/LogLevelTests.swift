import KaroKarMessages
import KaroKarRPC
import KaroKarRPCServer
import KaroKarServices
import KaroKarTestSupport
import Logging
import NIOConcurrencyHelpers
import Testing

@Suite("Log levels of failures that are not bugs")
struct LogLevelTests {
    /// Stands in for a database statement interrupted because its call was cancelled: it waits
    /// until its task is cancelled, then fails with an error that has no status of its own.
    struct InterruptedStatement: Error {}

    final class InterruptedEcho: RPCV1.DiagnosticsService.Handler {
        let failures = NIOLockedValueBox(0)

        func echo(_ request: RPCV1.EchoRequest, context: ServerCallContext) async throws -> RPCV1.EchoResponse {
            if request.payload == [0] { throw InterruptedStatement() }  // a real bug: INTERNAL, logged as error
            try? await Task.sleep(for: .seconds(30))
            failures.withLockedValue { $0 += 1 }
            throw InterruptedStatement()
        }
    }

    @Test("a call failing after its deadline passed is not logged as an error; a real failure still is")
    func cancelledIsNotAnError() async throws {
        let log = LogRecorder()
        let handler = InterruptedEcho()
        var configuration = RPCServer.Configuration()
        configuration.port = 0
        configuration.services = [handler.serviceDefinition()]
        let server = RPCServer(configuration: configuration, group: TestServer.group, logger: log.logger(level: .debug))
        let address = try await server.start()
        let client = RPCClient(configuration: .init(host: "127.0.0.1", port: address.port!), group: TestServer.group)
        let echo = RPCV1.DiagnosticsService.Client(client)
        do {
            _ = try await echo.echo(.init(payload: [1]), options: CallOptions(timeout: .milliseconds(200)))
            Issue.record("the deadline must pass")
        } catch let error as RPCError {
            #expect(error.code == .deadlineExceeded)
        }
        #expect(try await eventually { handler.failures.withLockedValue { $0 } == 1 })
        #expect(try await eventually { log.all.contains { $0.message == "call failed after it was cancelled" } })
        #expect(!log.all.contains { $0.level >= .error }, "\(log.all.map(\.message))")

        await #expect(throws: RPCError.self) { _ = try await echo.echo(.init(payload: [0])) }
        #expect(log.all.contains { $0.level == .error && $0.message == "handler failed" })
        await client.close()
        await server.close()
    }
}
