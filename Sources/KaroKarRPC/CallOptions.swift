import KaroKarProto

/// Per-call settings.
public struct CallOptions: Sendable {
    /// The call's deadline, relative to when it is sent. nil: no deadline.
    public var timeout: Duration?
    /// Sent with the call (credentials, `idempotency-key`, `traceparent`).
    public var metadata: Metadata
    /// Opt-in: also retry (within the client's retry bounds and the deadline) a call whose outcome
    /// is unknown because the connection was lost after its CALL was written, provided `metadata`
    /// carries an `idempotency-key`, which makes the server return the first attempt's result
    /// instead of running the mutation twice. Calls the server provably never started are retried
    /// whatever this says (Protos/PROTOCOL.md, section 14).
    public var retryWithIdempotencyKey = false

    public init(timeout: Duration? = nil, metadata: Metadata = Metadata(), retryWithIdempotencyKey: Bool = false) {
        self.timeout = timeout
        self.metadata = metadata
        self.retryWithIdempotencyKey = retryWithIdempotencyKey
    }
}

/// Anything that can carry a unary call: the generated client stubs are written against this.
public protocol RPCClientTransport: Sendable {
    func unary<Request, Response>(
        _ method: RPCMethod<Request, Response>, _ request: Request, options: CallOptions
    ) async throws -> Response
}

/// A call the server never started (refused while draining, above a DRAIN's last call id,
/// over the in-flight cap, or not written before the connection failed): safe to retry.
struct CallNotStarted: Error {
    let error: RPCError
    /// The server said so (DRAIN, `DRAINING`): try a new connection at once, without a backoff.
    var immediately = false
}

/// A call whose CALL frame was written before the connection was lost: it may have run.
struct CallOutcomeUnknown: Error {
    let error: RPCError
}
