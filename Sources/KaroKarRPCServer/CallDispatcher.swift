public import KaroKarRPC
public import Logging
import NIOCore
public import KaroKarMessages
import KaroKarProto
import Synchronization
public import Tracing

/// Routes calls to handlers through the interceptor chain, and turns their outcome into a REPLY
/// frame. Shared by every connection of a server; holds no mutable state. A class, so that a call
/// task captures one reference, not every table.
public final class CallDispatcher: Sendable {
    /// A class, so that handing it to a call task costs one retain rather than one per field.
    final class Target: Sendable {
        let methodInfo: CallMethod
        let route: RPCRoute
        let executor: (any TaskExecutor)?
        /// Its series, when the server measures.
        let metrics: MethodMetrics?
        /// `service/method`: the name of its calls' server spans.
        let spanName: String

        init(
            service: String, route: RPCRoute, executor: (any TaskExecutor)? = nil, interceptors: [any ServerInterceptor] = [],
            metrics: RPCServerMetrics? = nil
        ) {
            let path = "/\(service)/\(route.name)"
            self.methodInfo = CallMethod(
                path: path, service: service, name: route.name, access: route.access, interceptors: interceptors
            )
            self.route = route
            self.executor = executor
            self.metrics = metrics?.method(path)
            self.spanName = String(path.dropFirst())
        }
    }

    let targets: [String: Target]
    let interceptors: [any ServerInterceptor]
    let limits: ServerLimits
    let logger: Logger
    let errorTranslation: (@Sendable (any Error) -> RPCError?)?
    let metrics: RPCServerMetrics?
    let callCompleted: (@Sendable (CompletedCall) -> Void)?
    /// Metrics or a completion hook: the clock is read for each call only then.
    let observing: Bool
    /// Nil (the default): no spans, and no cost beyond this check.
    let tracing: RPCServerTracing?
    let allocator = ByteBufferAllocator()

    public init(
        services: [RPCServiceDefinition], interceptors: [any ServerInterceptor], limits: ServerLimits, logger: Logger,
        errorTranslation: (@Sendable (any Error) -> RPCError?)? = nil, metrics: RPCServerMetrics? = nil,
        callCompleted: (@Sendable (CompletedCall) -> Void)? = nil, tracing: RPCServerTracing? = nil
    ) {
        var targets: [String: Target] = [:]
        for service in services {
            for route in service.routes {
                let path = "/\(service.descriptor.name)/\(route.name)"
                precondition(targets[path] == nil, "\(path) is registered twice")
                targets[path] = Target(
                    service: service.descriptor.name, route: route, executor: service.executor, interceptors: interceptors, metrics: metrics
                )
            }
        }
        self.targets = targets
        self.interceptors = interceptors
        self.limits = limits
        self.logger = logger
        self.errorTranslation = errorTranslation
        self.metrics = metrics
        self.callCompleted = callCompleted
        self.observing = metrics != nil || callCompleted != nil
        self.tracing = tracing
    }

    func target(for path: String) -> Target? {
        targets[path]
    }

    /// Runs one call to completion and returns its REPLY frame.
    func execute(_ target: Target, payload: ByteBuffer, context: ServerCallContext) async -> ByteBuffer {
        if let tracing { return await executeTraced(tracing, target, payload: payload, context: context) }
        let started = observing ? NIODeadline.now() : nil
        // The completion hook sees the context the handler saw (with what the interceptors added: the caller).
        let innermost = callCompleted == nil ? nil : InnermostContext(context)
        do {
            let response = try await run(0, target: target, payload: payload, context: context, innermost: innermost)
            if let started { completed(target, context: innermost?.context ?? context, code: .ok, error: nil, since: started) }
            return ByteBuffer.okReplyFrame(callID: context.callID, payload: consume response, allocator: allocator)
        } catch {
            var status = rpcError(from: error, context: context)
            if let started {
                // A call the connection answered DEADLINE_EXCEEDED ends here cancelled.
                if status.code == .cancelled, let deadline = context.deadline, deadline <= .now {
                    status = RPCError(.deadlineExceeded, "deadline exceeded")
                }
                completed(target, context: innermost?.context ?? context, code: status.code, error: status, since: started)
            }
            return replyFrame(callID: context.callID, error: status)
        }
    }

    /// ``execute(_:payload:context:)`` inside a server span: its parent is the call's
    /// `traceparent` (when valid; else the span starts a trace), and it is the current span of the
    /// handler's task, so the statements it runs and the calls it makes are its children.
    private func executeTraced(_ tracing: RPCServerTracing, _ target: Target, payload: ByteBuffer, context: ServerCallContext) async -> ByteBuffer {
        let span = startSpan(tracing, target, context: context)
        let started = observing ? NIODeadline.now() : nil
        let innermost = InnermostContext(context)
        let frame: ByteBuffer
        var failure: RPCError?
        do {
            let response = try await InstrumentationContext.withValue(span.context) {
                try await run(0, target: target, payload: payload, context: context, innermost: innermost)
            }
            if let started { completed(target, context: innermost.context, code: .ok, error: nil, since: started) }
            frame = ByteBuffer.okReplyFrame(callID: context.callID, payload: consume response, allocator: allocator)
        } catch {
            var status = rpcError(from: error, context: context)
            if status.code == .cancelled, let deadline = context.deadline, deadline <= .now {
                status = RPCError(.deadlineExceeded, "deadline exceeded")
            }
            if let started { completed(target, context: innermost.context, code: status.code, error: status, since: started) }
            frame = replyFrame(callID: context.callID, error: status)
            failure = status
        }
        end(span, tracing, target, context: innermost.context, failure: failure)
        return frame
    }

    /// A server span for the call: its parent is the call's `traceparent` (when valid; else the
    /// span starts a trace).
    private func startSpan(_ tracing: RPCServerTracing, _ target: Target, context: ServerCallContext) -> any Span {
        var parent = InstrumentationContext.topLevel
        tracing.tracer.extract(context.metadata, into: &parent, using: MetadataTraceExtractor())
        return tracing.tracer.startSpan(target.spanName, context: parent, ofKind: .server)
    }

    /// Ends a call's span, with the call's attributes when it is recorded; `context` is the one
    /// the handler saw (with the caller the interceptors found).
    private func end(_ span: any Span, _ tracing: RPCServerTracing, _ target: Target, context: ServerCallContext, failure: RPCError?) {
        if span.isRecording {
            var attributes = span.attributes
            attributes["rpc.system"] = "karokar"
            attributes["rpc.service"] = target.methodInfo.service
            attributes["rpc.method"] = target.methodInfo.name
            attributes["network.peer.address"] = context.peer
            attributes["rpc.karokar.call_id"] = Int64(context.callID)
            attributes["rpc.karokar.status_code"] = RPCServerMetrics.name(of: failure?.code ?? .ok)
            if let domainCode = failure?.domainCode { attributes["rpc.karokar.domain_code"] = domainCode }
            tracing.attributes?(context, &attributes)
            span.attributes = attributes
            // As OpenTelemetry's RPC conventions: only the server's own faults mark a server span failed.
            if let failure, [.unknown, .deadlineExceeded, .unimplemented, .internal, .unavailable, .dataLoss].contains(failure.code) {
                span.setStatus(SpanStatus(code: .error, message: failure.message))
            }
        }
        span.end()
    }

    /// Records a finished call: its method's series, and the completion hook (the access log).
    func completed(_ target: Target, context: ServerCallContext, code: RPCCode, error: RPCError?, since started: NIODeadline) {
        let nanoseconds = (NIODeadline.now() - started).nanoseconds
        target.metrics?.record(code, nanoseconds: nanoseconds)
        callCompleted?(CompletedCall(context: context, code: code, error: error, nanoseconds: nanoseconds))
    }

    /// Answers a call to an immediate route (``RPCRoute/invokeNow``) without suspending, when every
    /// interceptor admits or refuses it on the spot, and appends its REPLY frame to `out`. False
    /// when one cannot: the call must then run in a task through ``execute(_:payload:context:)``
    /// (nothing has happened: admission has no effects).
    /// `context` is left as it was when it returns false, and is not copied on the usual path
    /// (one interceptor, or none).
    ///
    /// Without a completion hook its metrics go into `tally`, which the connection records once
    /// per read with one clock reading (``CallTally``), not per call.
    ///
    /// With tracing the call gets its server span here, started and ended around the handler:
    /// an immediate handler runs no statement and makes no call, so no task needs to carry the
    /// span's context, and a traced server keeps answering these on the event loop.
    func executeNow(
        _ invoke: RPCRoute.ImmediateInvocation, target: Target, receivedAt: NIODeadline, payload: ByteBuffer,
        context: inout ServerCallContext, into out: inout ByteBuffer, tally: inout CallTally
    ) -> Bool {
        var refusal: (any Error)?
        do {
            if interceptors.count == 1 {
                guard try interceptors[0].admitNow(context: &context) else { return false }
            } else if !interceptors.isEmpty {
                var admitted = context  // a later interceptor may decline after an earlier one changed it
                for interceptor in interceptors {
                    guard try interceptor.admitNow(context: &admitted) else { return false }
                }
                context = admitted
            }
        } catch {
            refusal = error
        }
        let span = tracing.map { startSpan($0, target, context: context) }
        var failure: RPCError?
        do {
            if let refusal { throw refusal }
            try invoke(payload, context, &out)
        } catch {
            let status = rpcError(from: error, context: context)
            out.writeFrame(type: .reply, callID: context.callID, message: RPCV1.Reply(status: status.status))
            failure = status
        }
        if callCompleted != nil {
            completed(target, context: context, code: failure?.code ?? .ok, error: failure, since: receivedAt)
        } else if let metrics = target.metrics {
            tally.add(method: metrics.index, code: failure?.code ?? .ok)
        }
        if let span, let tracing { end(span, tracing, target, context: context, failure: failure) }
        return true
    }

    private func run(
        _ index: Int, target: Target, payload: ByteBuffer, context: ServerCallContext, innermost: InnermostContext?
    ) async throws -> ByteBuffer {
        guard index < interceptors.count else {
            innermost?.context = context
            try Task.checkCancellation()
            return try await target.route.invoke(payload, context)
        }
        return try await interceptors[index].intercept(context: context) { context in
            try await run(index + 1, target: target, payload: payload, context: context, innermost: innermost)
        }
    }

    /// STYLE habit 4: known errors choose their status (their own, or the one the server's
    /// ``RPCServer/Configuration/errorTranslation`` gives them); anything else is INTERNAL. Every
    /// INTERNAL, whatever produced it, reaches the client as exactly `internal error` with no
    /// details, and is logged with its cause: the error's type and description, never sent.
    func rpcError(from error: any Error, context: ServerCallContext) -> RPCError {
        let status: RPCError? = switch error {
        case let error as RPCError: error
        case let error as any RPCErrorConvertible: error.rpcError
        case is CancellationError: RPCError(.cancelled, "the call was cancelled")
        default: errorTranslation?(error)
        }
        if let status, status.code != .internal {
            // Translated (the layers beneath): an RPCError of the handler's own is no outage.
            if status.code == .unavailable, !(error is RPCError), !(error is any RPCErrorConvertible) {
                logOutage(error, status: status, context: context)
            }
            return status
        }
        var cause: Logger.Metadata = ["error.type": "\(type(of: error))", "error.description": "\(error)"]
        if let status { cause["error.message"] = "\(status.message)" }
        // A call whose task was cancelled (its deadline passed, its client cancelled it, its
        // connection dropped) fails however its statement was interrupted: that is no bug, and
        // no `error` line. Its client gets CANCELLED, if it is still there to read it.
        if Task.isCancelled {
            context.logger.debug("call failed after it was cancelled", metadata: cause)
            return RPCError(.cancelled, "the call was cancelled")
        }
        context.logger.error("handler failed", metadata: cause)
        return RPCError.internalError
    }

    /// A call failed for lack of something beneath the server (the database down, its pool out
    /// of connections): the client is told UNAVAILABLE without the cause; the log gets the cause
    /// (e.g. libpq's message), at warning at most once per ``outageLogInterval``, the rest at debug,
    /// so an outage is visible without one line per call.
    private func logOutage(_ error: any Error, status: RPCError, context: ServerCallContext) {
        let now = ContinuousClock.now
        let loud = lastOutageLog.withLock { last -> Bool in
            if let previous = last, now - previous < Self.outageLogInterval { return false }
            last = now
            return true
        }
        let metadata: Logger.Metadata = ["error.type": "\(type(of: error))", "error.description": "\(error)", "error.message": "\(status.message)"]
        if loud {
            context.logger.warning("call failed: a dependency is unavailable", metadata: metadata)
        } else {
            context.logger.debug("call failed: a dependency is unavailable", metadata: metadata)
        }
    }

    static let outageLogInterval: Duration = .seconds(10)
    private let lastOutageLog = Mutex<ContinuousClock.Instant?>(nil)

    func replyFrame(callID: UInt32, _ reply: RPCV1.Reply) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 64 + reply.payload.count)
        buffer.writeFrame(type: .reply, callID: callID, message: reply)
        return buffer
    }

    func replyFrame(callID: UInt32, error: RPCError) -> ByteBuffer {
        replyFrame(callID: callID, RPCV1.Reply(status: error.status))
    }
}

/// A call the server answered, for ``RPCServer/Configuration/callCompleted`` (the access log).
public struct CompletedCall: Sendable {
    public let context: ServerCallContext
    public let code: RPCCode
    /// The status sent, when not OK.
    public let error: RPCError?
    /// From the read that brought the CALL (immediate calls) or the call's task start, to the REPLY.
    public let nanoseconds: Int64
}

/// The context a call's handler ran with, kept for the completion hook. Written and read by the
/// call's own task only, one step after the other.
final class InnermostContext: @unchecked Sendable {
    var context: ServerCallContext

    init(_ context: ServerCallContext) {
        self.context = context
    }
}

/// Tracing of the server's calls (README, "Tracing"): a server span per call answered by a
/// handler, continuing the caller's W3C trace (`traceparent`, `tracestate` metadata).
public struct RPCServerTracing: Sendable {
    /// Extracts the caller's context (`traceparent`) and makes the spans.
    public var tracer: any Tracer
    /// Adds what the composition root knows of a call once its interceptors ran (the caller's
    /// organization), to the span of a sampled call.
    public var attributes: (@Sendable (ServerCallContext, inout SpanAttributes) -> Void)?

    public init(tracer: any Tracer, attributes: (@Sendable (ServerCallContext, inout SpanAttributes) -> Void)? = nil) {
        self.tracer = tracer
        self.attributes = attributes
    }
}
