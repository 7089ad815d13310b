/// The limits a server enforces on each connection (announced in HELLO_ACK).
public struct ServerLimits: Sendable, Hashable {
    /// Largest accepted length field; larger frames close the connection before the body arrives.
    public var maximumFrameBytes = 4 * 1024 * 1024
    /// Default cap on a request payload; methods may override it.
    public var maximumRequestBytes = 1024 * 1024
    /// Per-method request caps, by path (`/service/method`).
    public var methodRequestBytes: [String: Int] = [:]
    /// Calls in flight per connection; one more is refused with RESOURCE_EXHAUSTED.
    public var maximumCallsInFlight = 256
    public var maximumMetadataBytes = 8 * 1024
    public var maximumMetadataEntries = 64
    /// Connections open at once; more are closed right after accept.
    public var maximumConnections = 10_000
    /// HELLO must arrive within this time of connecting.
    public var handshakeTimeout: Duration = .seconds(5)
    /// A connection with no call in flight and nothing received for this long is drained.
    public var idleTimeout: Duration = .seconds(300)
    /// A frame whose first byte arrived must be complete within this time (slow-drip defence).
    public var frameTimeout: Duration = .seconds(10)
    /// Deadlines longer than this are shortened to it (a day).
    public static let maximumTimeoutMicros: UInt64 = 86_400 * 1_000_000
    /// Longest a graceful drain waits for in-flight calls before closing anyway.
    public var drainTimeout: Duration = .seconds(30)
    /// How long a graceful drain first reports NOT_SERVING from the health service while still
    /// serving as before, so that health checkers stop sending work before the listener closes.
    public var drainDelay: Duration = .zero
    /// Reply bytes written and not yet sent (the peer has not read them) past which a connection
    /// stops handling frames and reading the socket.
    public var outboundHighWaterBytes = 256 * 1024
    /// Below this, a connection stopped by ``outboundHighWaterBytes`` handles frames and reads again.
    public var outboundLowWaterBytes = 64 * 1024
    /// A connection that stays stopped this long (its peer does not read its replies) is closed.
    public var outboundStallTimeout: Duration = .seconds(30)

    public init() {}

    public func requestBytes(forPath path: String) -> Int {
        methodRequestBytes[path] ?? maximumRequestBytes
    }
}
