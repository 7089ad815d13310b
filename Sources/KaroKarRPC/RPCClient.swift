public import NIOCore
public import Instrumentation
import KaroKarMessages
import KaroKarProto
import NIOConcurrencyHelpers
import NIOPosix
import Synchronization

/// A client of a KaroKar RPC server: a small pool of multiplexed connections, deadlines,
/// cancellation, typed errors, and automatic retry of calls the server never started.
///
/// Give it to a generated stub: `RPCV1.HealthService.Client(client)`.
public final class RPCClient: RPCClientTransport, Sendable {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 7420
        /// Connections in the pool; calls are spread over them round-robin.
        public var connections = 1
        public var clientName = "karokar-swift-client"
        public var connectTimeout: Duration = .seconds(5)
        /// How often a call the server never started is tried again.
        public var maximumRetries = 3
        /// The first retry's longest backoff; it doubles each retry (with full jitter) up to
        /// `retryBackoffLimit`.
        public var retryBackoff: Duration = .milliseconds(20)
        public var retryBackoffLimit: Duration = .seconds(1)
        public var maximumFrameBytes = 16 * 1024 * 1024
        /// TLS (PROTOCOL.md, "TLS"); nil: plain TCP. A connection counts as made once its TLS
        /// handshake has completed; a failed handshake is a failure to connect.
        public var tls: RPCClientTLS?
        /// What writes the current span's `traceparent` (and `tracestate`) into each call's
        /// metadata: nil, the process's `InstrumentationSystem.instrument` (a no-op unless the
        /// application bootstrapped one). Only calls made inside a span
        /// (`InstrumentationContext.current` set) consult it; a `traceparent` already in the
        /// call's metadata is sent as it is.
        public var instrument: (any Instrument)?

        public init(host: String = "127.0.0.1", port: Int = 7420) {
            self.host = host
            self.port = port
        }
    }

    private enum Slot {
        case empty
        case connecting(EventLoopFuture<ClientConnection>)
        case ready(ClientConnection)
    }

    private struct State {
        var slots: [Slot]
        var next = 0
        var nextToken: UInt64 = 0
        var closed = false
    }

    public let configuration: Configuration
    private let group: any EventLoopGroup
    private let state: NIOLockedValueBox<State>
    private let retryCount = Atomic<Int>(0)

    public init(configuration: Configuration, group: any EventLoopGroup) {
        precondition(configuration.connections >= 1)
        self.configuration = configuration
        self.group = group
        self.state = NIOLockedValueBox(State(slots: Array(repeating: .empty, count: configuration.connections)))
    }

    // MARK: - Calls

    public func unary<Request, Response>(
        _ method: RPCMethod<Request, Response>, _ request: Request, options: CallOptions
    ) async throws -> Response {
        let payload = ProtoCodec.encode(request)
        let reply = try await call(path: method.path, payload: payload, options: options)
        do {
            return try ProtoCodec.decode(Response.self, from: reply)
        } catch {
            throw RPCError(.internal, "cannot decode \(Response.protoName) from the server: \(error)")
        }
    }

    /// An untyped call: the request and response as encoded protobuf (the CLI and load generator use it).
    ///
    /// A call the server provably never started (connection refused or closed before its CALL was
    /// written, a DRAIN's `last_call_id` below it, REPLY `DRAINING` or `TOO_MANY_CALLS`) is tried
    /// again on a new connection to the same address (behind a balancer, possibly another server):
    /// at most `maximumRetries` times, after a backoff with full jitter (none for the first retry
    /// after a drain), and never past the call's deadline, which each attempt carries as what is
    /// left of it. A call that may have started is retried only with `retryWithIdempotencyKey` and
    /// an `idempotency-key` (Protos/PROTOCOL.md, section 14).
    public func call(path: String, payload: [UInt8], options: CallOptions) async throws -> [UInt8] {
        // The current span's traceparent, before the deadline's clock starts (as before tracing).
        var metadata = options.metadata
        if let trace = InstrumentationContext.current, metadata.bytes(for: Metadata.Key.traceparent) == nil {
            (configuration.instrument ?? InstrumentationSystem.instrument).inject(trace, into: &metadata, using: MetadataTraceInjector())
        }
        let deadline = options.timeout.map { ContinuousClock.now + $0 }
        let mayRepeat = options.retryWithIdempotencyKey && options.metadata[Metadata.Key.idempotencyKey] != nil
        var retries = 0
        while true {
            var timeout = options.timeout
            if let deadline {
                timeout = deadline - ContinuousClock.now
                guard timeout! > .zero else { throw RPCError(.deadlineExceeded, "deadline exceeded before the call could be sent") }
            }
            let failure: RPCError
            var immediately = false
            do {
                let connection = try await connection()
                let body = Self.encodeCall(path: path, payload: payload, timeout: timeout, metadata: metadata)
                return try await connection.call(body: body, timeout: timeout, token: nextToken())
            } catch let error as CallNotStarted {
                failure = error.error
                immediately = error.immediately
            } catch let error as CallOutcomeUnknown {
                guard mayRepeat else { throw error.error }
                failure = error.error
            }
            retries += 1
            guard retries <= configuration.maximumRetries else { throw failure }
            guard !Task.isCancelled else { throw RPCError(.cancelled, "the call was cancelled") }
            retryCount.add(1, ordering: .relaxed)
            try await backOff(before: retries, immediately: immediately, deadline: deadline, after: failure)
        }
    }

    /// Retries made so far (every call, every attempt after its first): for load generators' reports.
    public var retries: Int { retryCount.load(ordering: .relaxed) }

    private static func encodeCall(path: String, payload: [UInt8], timeout: Duration?, metadata: Metadata) -> ByteBuffer {
        let call = RPCV1.Call(
            method: path,
            timeoutMicros: timeout.map { UInt64(clamping: max(TimeAmount($0).nanoseconds / 1000, 1)) } ?? 0,
            metadata: metadata.wireEntries,
            payload: payload
        )
        var body = ByteBufferAllocator().buffer(capacity: payload.count + path.utf8.count + 16)
        _ = ProtoCodec.encode(call) { size, pack in
            body.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
                if size > 0 { pack(out.baseAddress!) }
                return size
            }
        }
        return body
    }

    /// Exponential backoff with full jitter: a random wait up to `retryBackoff` × 2^(retry − 1),
    /// capped at `retryBackoffLimit`; none before the first retry after a drain (the server asked
    /// for a new connection, and a balancer sends it elsewhere). Gives up rather than sleep past
    /// the deadline.
    private func backOff(before retry: Int, immediately: Bool, deadline: ContinuousClock.Instant?, after failure: RPCError) async throws {
        if immediately && retry == 1 { return }
        let ceiling = min(configuration.retryBackoffLimit, configuration.retryBackoff * (1 << min(retry - 1, 20)))
        let nanoseconds = max(TimeAmount(ceiling).nanoseconds, 1)
        let delay = Duration.nanoseconds(Int64.random(in: 0...nanoseconds))
        if let deadline, ContinuousClock.now + delay >= deadline {
            throw RPCError(.deadlineExceeded, "deadline exceeded before the call could be started (last attempt: \(failure.message))")
        }
        do {
            try await Task.sleep(for: delay)
        } catch {
            throw RPCError(.cancelled, "the call was cancelled")
        }
    }

    private func nextToken() -> UInt64 {
        state.withLockedValue { state in
            state.nextToken += 1
            return state.nextToken
        }
    }

    // MARK: - Pool

    func connection() async throws -> ClientConnection {
        let (index, slot) = try state.withLockedValue { state -> (Int, Slot) in
            guard !state.closed else { throw RPCError(.unavailable, "the client is closed") }
            var index = state.next % state.slots.count
            state.next &+= 1
            // A caller running on one of the group's event loops (a task preferring that loop
            // as its executor) gets a connection served by that loop when one is ready: the
            // call starts there and its reply resumes it there, with no thread hand-off.
            if case .ready(let connection) = state.slots[index], !connection.channel.eventLoop.inEventLoop {
                for step in 1..<state.slots.count {
                    let candidate = (index + step) % state.slots.count
                    if case .ready(let other) = state.slots[candidate], other.channel.eventLoop.inEventLoop {
                        index = candidate
                        break
                    }
                }
            }
            switch state.slots[index] {
            case .empty:
                let future = connect(slot: index)
                state.slots[index] = .connecting(future)
                return (index, .connecting(future))
            case let other:
                return (index, other)
            }
        }
        switch slot {
        case .ready(let connection):
            return connection
        case .connecting(let future):
            do {
                return try await future.get()
            } catch {
                state.withLockedValue { $0.slots[index] = .empty }
                throw CallNotStarted(error: RPCError(.unavailable, "cannot connect to \(configuration.host):\(configuration.port): \(error)"))
            }
        case .empty:
            preconditionFailure("an empty slot is replaced before use")
        }
    }

    private func connect(slot index: Int) -> EventLoopFuture<ClientConnection> {
        let configuration = self.configuration
        let state = self.state
        let handshake = NIOLockedValueBox<EventLoopFuture<Void>?>(nil)
        let future = ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ClientConnectionHandler(clientName: configuration.clientName, maximumFrameBytes: configuration.maximumFrameBytes)
                    )
                    if let tls = configuration.tls {
                        let done = try tls.addHandlers(to: channel, host: configuration.host)
                        handshake.withLockedValue { $0 = done }
                    }
                }
            }
            .connect(host: configuration.host, port: configuration.port)
            .flatMap { channel in
                guard let done = handshake.withLockedValue({ $0 }) else { return channel.eventLoop.makeSucceededFuture(channel) }
                return done.map { channel }.flatMapError { error in
                    channel.close(promise: nil)
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .flatMapThrowing { channel in
                try ClientConnection(channel: channel) { [state] connection in
                    state.withLockedValue { state in
                        if case .ready(let current) = state.slots[index], current === connection {
                            state.slots[index] = .empty
                        }
                    }
                }
            }
        future.whenSuccess { [state] connection in
            state.withLockedValue { $0.slots[index] = .ready(connection) }
        }
        return future
    }

    /// Closes every connection; calls in flight fail with UNAVAILABLE.
    public func close() async {
        let slots = state.withLockedValue { state in
            state.closed = true
            return state.slots
        }
        for slot in slots {
            if case .ready(let connection) = slot { await connection.close() }
            if case .connecting(let future) = slot { await (try? future.get())?.close() }
        }
    }
}

/// One pooled connection; sendable façade over its event-loop-bound handler.
final class ClientConnection: Sendable {
    let channel: any Channel
    private let handler: NIOLoopBound<ClientConnectionHandler>

    init(channel: any Channel, onUnusable: @escaping @Sendable (ClientConnection) -> Void) throws {
        self.channel = channel
        let handler = try channel.pipeline.syncOperations.handler(type: ClientConnectionHandler.self)
        self.handler = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        handler.onUnusable = { [weak self] in
            if let self { onUnusable(self) }
        }
    }

    func call(body: ByteBuffer, timeout: Duration?, token: UInt64) async throws -> [UInt8] {
        let handler = self.handler
        let loop = channel.eventLoop
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { completion in
                // On the connection's loop already (see ``connection()``): start now, no hop. A
                // task already cancelled takes the queued way, after its cancellation.
                if loop.inEventLoop && !Task.isCancelled {
                    handler.value.start(token: token, body: body, timeout: timeout, completion: completion)
                } else {
                    loop.execute { handler.value.start(token: token, body: body, timeout: timeout, completion: completion) }
                }
            }
        } onCancel: {
            loop.execute { handler.value.cancel(token: token) }
        }
    }

    func close() async {
        try? await channel.close()
    }
}
