public import Logging
public import NIOCore
import KaroKarMessages
import Synchronization

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
    /// What lives as long as the call's connection, shared by its calls.
    public let connection: ConnectionAttributes
    private var baseLogger: Logger

    public init(
        path: String, service: String, method: String, callID: UInt32, metadata: Metadata,
        deadline: ContinuousClock.Instant?, peer: String, logger: Logger, attributes: CallAttributes = CallAttributes(),
        connection: ConnectionAttributes = ConnectionAttributes()
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
        self.connection = connection
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

/// Typed, per-call storage that interceptors fill and handlers read. A call carries a few
/// attributes at most, so they are a list (read on every call: no hashing).
public struct CallAttributes: Sendable {
    private var storage: [(key: ObjectIdentifier, value: any Sendable)] = []

    public init() {}

    public var isEmpty: Bool { storage.isEmpty }

    public subscript<Key: CallAttributeKey>(key: Key.Type) -> Key.Value? {
        get {
            let id = ObjectIdentifier(key)
            for index in storage.indices where storage[index].key == id { return storage[index].value as? Key.Value }
            return nil
        }
        set {
            let id = ObjectIdentifier(key)
            if let index = storage.firstIndex(where: { $0.key == id }) {
                if let newValue { storage[index].value = newValue } else { storage.remove(at: index) }
            } else if let newValue {
                storage.append((id, newValue))
            }
        }
    }
}

/// A key for ``ConnectionAttributes``; the key type names the value type, an immutable class
/// (values are replaced whole, never changed in place).
public protocol ConnectionAttributeKey: Sendable {
    associatedtype Value: AnyObject & Sendable
}

/// Typed storage that lives as long as one client connection, for interceptors that reuse work
/// between a connection's calls (the authorization interceptor keeps the last credential it
/// verified here, so the next call that presents the same bytes skips the token and cache
/// lookups). A connection's calls run concurrently, so values are replaced whole under a lock.
/// It holds a handful of entries at most: a list, read in a few nanoseconds on every call.
public final class ConnectionAttributes: Sendable {
    private let storage = Mutex<[(key: ObjectIdentifier, value: any AnyObject & Sendable)]>([])

    public init() {}

    public subscript<Key: ConnectionAttributeKey>(key: Key.Type) -> Key.Value? {
        get {
            let id = ObjectIdentifier(key)
            guard let value = storage.withLock({ entries in entries.first { $0.key == id }?.value }) else { return nil }
            return unsafeDowncast(value, to: Key.Value.self)  // only the setter below stores under this key
        }
        set {
            let id = ObjectIdentifier(key)
            storage.withLock { entries in
                entries.removeAll { $0.key == id }
                if let newValue { entries.append((id, newValue)) }
            }
        }
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
