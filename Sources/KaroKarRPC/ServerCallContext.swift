public import Logging
public import NIOCore
import KaroKarMessages

/// What a handler knows about the call it serves.
public struct ServerCallContext: Sendable {
    /// `/service/method`.
    public let path: String
    public let service: String
    public let method: String
    public let callID: UInt32
    public let metadata: Metadata
    /// When the client stops waiting; the handler's task is cancelled then.
    public let deadline: ContinuousClock.Instant?
    /// The remote address, for logs.
    public let peer: String
    /// Values interceptors attach for handlers (the authenticated caller, for example).
    public var attributes: CallAttributes
    private var baseLogger: Logger

    public init(
        path: String, service: String, method: String, callID: UInt32, metadata: Metadata,
        deadline: ContinuousClock.Instant?, peer: String, logger: Logger, attributes: CallAttributes = CallAttributes()
    ) {
        self.path = path
        self.service = service
        self.method = method
        self.callID = callID
        self.metadata = metadata
        self.deadline = deadline
        self.peer = peer
        self.baseLogger = logger
        self.attributes = attributes
    }

    /// The connection's logger with `rpc.method` and `rpc.call_id` added. Built on access: setting
    /// metadata costs a dictionary copy (and some log handlers re-render it), too much for every call.
    public var logger: Logger {
        get {
            var logger = baseLogger
            logger[metadataKey: "rpc.method"] = "\(path)"
            logger[metadataKey: "rpc.call_id"] = "\(callID)"
            return logger
        }
        set {
            baseLogger = newValue
        }
    }
}

/// A key for ``CallAttributes``; the key type names the value type.
public protocol CallAttributeKey: Sendable {
    associatedtype Value: Sendable
}

/// Typed, per-call storage that interceptors fill and handlers read.
public struct CallAttributes: Sendable {
    private var storage: [ObjectIdentifier: any Sendable] = [:]

    public init() {}

    public subscript<Key: CallAttributeKey>(key: Key.Type) -> Key.Value? {
        get { storage[ObjectIdentifier(key)] as? Key.Value }
        set { storage[ObjectIdentifier(key)] = newValue }
    }
}

/// Runs around every call, before the request is decoded: authentication and authorization hook in
/// here. Throw an ``RPCError`` to refuse the call; call `next` (once) to continue. `next` returns the
/// encoded response payload.
public protocol ServerInterceptor: Sendable {
    func intercept(
        context: ServerCallContext,
        next: (ServerCallContext) async throws -> ByteBuffer
    ) async throws -> ByteBuffer
}
