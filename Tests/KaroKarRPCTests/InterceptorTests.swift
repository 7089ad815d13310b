import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import KaroKarRPCServer
import KaroKarServices
import KaroKarTestSupport
import Logging
import NIOCore
import Testing

/// The hook authentication and authorization use (issue 4): interceptors run in order before the
/// request is decoded, may refuse the call, and may attach typed values for the handler.
@Suite("Interceptor chain")
struct InterceptorTests {
    enum CallerKey: CallAttributeKey {
        typealias Value = String
    }

    /// Refuses calls without `x-allow`; records the order it ran in.
    struct Gate: ServerInterceptor {
        let log: Recorder

        func intercept(context: ServerCallContext, next: (ServerCallContext) async throws -> ByteBuffer) async throws -> ByteBuffer {
            log.append("gate")
            guard context.metadata["x-allow"] == "yes" else {
                throw RPCError(.permissionDenied, "not allowed", domainCode: "NOT_ALLOWED")
            }
            return try await next(context)
        }
    }

    /// Attaches the caller named in metadata.
    struct Identify: ServerInterceptor {
        let log: Recorder

        func intercept(context: ServerCallContext, next: (ServerCallContext) async throws -> ByteBuffer) async throws -> ByteBuffer {
            log.append("identify")
            var context = context
            context.attributes[CallerKey.self] = context.metadata["x-caller"]
            return try await next(context)
        }
    }

    /// Echoes the caller the interceptors identified.
    struct WhoAmI: RPCV1.DiagnosticsService.Handler {
        func echo(_ request: RPCV1.EchoRequest, context: ServerCallContext) async throws -> RPCV1.EchoResponse {
            RPCV1.EchoResponse(payload: Array((context.attributes[CallerKey.self] ?? "nobody").utf8))
        }
    }

    final class Recorder: Sendable {
        private let entries = LockedStrings()
        func append(_ entry: String) { entries.append(entry) }
        var all: [String] { entries.all }
    }

    @Test func refusesOrEnrichesCalls() async throws {
        let log = Recorder()
        var configuration = RPCServer.Configuration()
        configuration.port = 0
        configuration.services = [WhoAmI().serviceDefinition()]
        configuration.interceptors = [Gate(log: log), Identify(log: log)]
        let server = RPCServer(configuration: configuration, group: TestServer.group, logger: Logger(label: "interceptor-test"))
        let address = try await server.start()
        let client = RPCClient(configuration: .init(host: "127.0.0.1", port: address.port!), group: TestServer.group)
        let echo = RPCV1.DiagnosticsService.Client(client)

        do {
            _ = try await echo.echo(RPCV1.EchoRequest())
            Issue.record("the gate must refuse")
        } catch let error as RPCError {
            #expect(error.code == .permissionDenied)
            #expect(error.domainCode == "NOT_ALLOWED")
        }
        #expect(log.all == ["gate"], "a refused call stops the chain")

        let allowed = CallOptions(metadata: Metadata([("x-allow", "yes"), ("x-caller", "user-42")]))
        let reply = try await echo.echo(RPCV1.EchoRequest(), options: allowed)
        #expect(String(decoding: reply.payload, as: UTF8.self) == "user-42")
        #expect(log.all == ["gate", "gate", "identify"])
        await client.close()
        await server.close()
    }
}
