import KaroKarProto

/// Per-call settings.
public struct CallOptions: Sendable {
    /// The call's deadline, relative to when it is sent. nil: no deadline.
    public var timeout: Duration?
    /// Sent with the call (credentials, `idempotency-key`, `traceparent`).
    public var metadata: Metadata

    public init(timeout: Duration? = nil, metadata: Metadata = Metadata()) {
        self.timeout = timeout
        self.metadata = metadata
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
}
