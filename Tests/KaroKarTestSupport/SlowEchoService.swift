public import KaroKarMessages
public import KaroKarRPC
public import KaroKarRPCServer
public import KaroKarServices
import Logging
public import NIOCore
import NIOConcurrencyHelpers

/// A `DiagnosticsService` for tests: a payload `sleep:<ms>` makes the handler wait that long
/// (cancellably); it counts the calls that saw their task cancelled. A payload `deadline` is
/// answered with the milliseconds left until the call's deadline as the handler sees it
/// (``ServerCallContext/deadline``), or `none`.
public final class SlowEchoService: RPCV1.DiagnosticsService.Handler {
    private let started = NIOLockedValueBox(0)
    private let cancelled = NIOLockedValueBox(0)
    private let completed = NIOLockedValueBox(0)

    public init() {}

    public var startedCalls: Int { started.withLockedValue { $0 } }
    public var cancelledCalls: Int { cancelled.withLockedValue { $0 } }
    public var completedCalls: Int { completed.withLockedValue { $0 } }

    public func echo(_ request: RPCV1.EchoRequest, context: ServerCallContext) async throws -> RPCV1.EchoResponse {
        started.withLockedValue { $0 += 1 }
        let text = String(decoding: request.payload, as: UTF8.self)
        if text == "deadline" {
            let left = context.deadline.map { String(($0 - ContinuousClock.now) / .milliseconds(1)) } ?? "none"
            return RPCV1.EchoResponse(payload: Array(left.utf8))
        }
        if text.hasPrefix("sleep:"), let milliseconds = Int(text.dropFirst(6)) {
            do {
                try await Task.sleep(for: .milliseconds(milliseconds))
            } catch {
                cancelled.withLockedValue { $0 += 1 }
                throw error
            }
        }
        completed.withLockedValue { $0 += 1 }
        return RPCV1.EchoResponse(payload: request.payload)
    }

    /// A bare RPC server hosting only this service and health, with the given limits, on `group`
    /// (the tests' shared loops unless a test that times replies brings its own).
    public func startServer(
        limits: ServerLimits, startsCallsOnEventLoop: Bool = true, group: any EventLoopGroup = TestServer.group, port: Int = 0
    ) async throws -> (RPCServer, SocketAddress) {
        var configuration = RPCServer.Configuration()
        configuration.startsCallsOnEventLoop = startsCallsOnEventLoop
        configuration.port = port
        configuration.limits = limits
        configuration.services = [serviceDefinition()]
        var logger = Logger(label: "slow-echo-server")
        logger.logLevel = .critical
        let server = RPCServer(configuration: configuration, group: group, logger: logger)
        return (server, try await server.start())
    }
}

extension RPCV1.EchoRequest {
    public static func sleep(_ milliseconds: Int) -> RPCV1.EchoRequest {
        RPCV1.EchoRequest(payload: Array("sleep:\(milliseconds)".utf8))
    }
}
