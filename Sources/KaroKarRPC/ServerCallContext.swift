public import Logging
public import NIOCore
import KaroKarMessages
import Synchronization

/// What a handler knows about the call it serves.
///
/// Built for every call and copied along the interceptor chain, so it is small: what all calls
/// of a method share (``CallMethod``) and what all calls of a connection share
/// (``CallConnection``) are one reference each, made once.
public struct ServerCallContext: Sendable {
    /// The method's path and names.
    public let methodInfo: CallMethod
    /// The call's connection: peer, logger, attributes.
    public let connectionInfo: CallConnection
    public let callID: UInt32
    public let metadata: Metadata
    /// The deadline, as time since ``CallClock/origin``. Not a `ContinuousClock.Instant?`: that
    /// type's layout is known only at run time (the standard library's `Instant` is not frozen),
    /// and a field of it made every call build and destroy this struct through its metadata.
    private let deadlineSinceOrigin: Duration?
    /// Values interceptors attach for handlers (the authenticated caller, for example).
    public var attributes: CallAttributes
    /// A logger set for this call, if one was.
    private var loggerOverride: LoggerBox?

    /// A context built by hand (tests, tools): `access` is the method's declared rule.
    public init(
        path: String, service: String, method: String, access: MethodAccess = .authenticated, callID: UInt32, metadata: Metadata,
        deadline: ContinuousClock.Instant?, peer: String, logger: Logger, attributes: CallAttributes = CallAttributes(),
        connection: ConnectionAttributes = ConnectionAttributes()
    ) {
        self.init(
            methodInfo: CallMethod(path: path, service: service, name: method, access: access), callID: callID, metadata: metadata,
            deadline: deadline, connectionInfo: CallConnection(peer: peer, logger: logger, attributes: connection),
            attributes: attributes
        )
    }

    public init(
        methodInfo: CallMethod, callID: UInt32, metadata: Metadata, deadline: ContinuousClock.Instant?,
        connectionInfo: CallConnection, attributes: CallAttributes = CallAttributes()
    ) {
        self.init(
            methodInfo: methodInfo, callID: callID, metadata: metadata,
            deadlineSinceOrigin: deadline.map { $0 - CallClock.origin }, connectionInfo: connectionInfo, attributes: attributes
        )
    }

    /// A context whose deadline is an instant of the server's event-loop clock, or none: how the
    /// server makes them, with no clock reading of their own.
    package init(
        methodInfo: CallMethod, callID: UInt32, metadata: Metadata, deadline: NIODeadline?, connectionInfo: CallConnection
    ) {
        self.init(
            methodInfo: methodInfo, callID: callID, metadata: metadata,
            deadlineSinceOrigin: deadline.map(CallClock.sinceOrigin), connectionInfo: connectionInfo,
            attributes: CallAttributes()
        )
    }

    private init(
        methodInfo: CallMethod, callID: UInt32, metadata: Metadata, deadlineSinceOrigin: Duration?, connectionInfo: CallConnection,
        attributes: CallAttributes
    ) {
        self.methodInfo = methodInfo
        self.callID = callID
        self.metadata = metadata
        self.deadlineSinceOrigin = deadlineSinceOrigin
        self.connectionInfo = connectionInfo
        self.attributes = attributes
    }

    /// When the client stops waiting; the handler's task is cancelled then.
    public var deadline: ContinuousClock.Instant? {
        deadlineSinceOrigin.map { CallClock.origin + $0 }
    }

    /// `/service/method`.
    public var path: String { methodInfo.path }
    /// The fully qualified service name.
    public var service: String { methodInfo.service }
    /// The short method name.
    public var method: String { methodInfo.name }
    /// The remote address, for logs.
    public var peer: String { connectionInfo.peer }
    /// What lives as long as the call's connection, shared by its calls.
    public var connection: ConnectionAttributes { connectionInfo.attributes }
    /// With mutual TLS: the identity of the client's verified certificate (``RPCTLS/identity(of:)``).
    public var clientCertificate: String? { connectionInfo.clientCertificate }

    /// The connection's logger with `rpc.method` and `rpc.call_id` added. Built on access: setting
    /// metadata costs a dictionary copy (and some log handlers re-render it), too much for every call.
    public var logger: Logger {
        get {
            var logger = loggerOverride?.logger ?? connectionInfo.logger
            logger[metadataKey: "rpc.method"] = "\(path)"
            logger[metadataKey: "rpc.call_id"] = "\(callID)"
            return logger
        }
        set {
            loggerOverride = LoggerBox(newValue)
        }
    }
}

/// The reference point of call deadlines: ``ServerCallContext`` keeps its deadline as the time
/// since this instant, a value of fixed size. The server times calls with the event loops' clock
/// (`NIODeadline`), handlers see `ContinuousClock` instants: both clocks are read once, together,
/// and a deadline keeps its distance from that reading. (They tick alike; on Linux they part only
/// by time the machine spends suspended.)
package enum CallClock {
    private static let origins = (continuous: ContinuousClock.now, uptimeNanoseconds: NIODeadline.now().uptimeNanoseconds)

    package static var origin: ContinuousClock.Instant { origins.continuous }

    /// `deadline` as time since ``origin``; wraps rather than traps on any value.
    package static func sinceOrigin(_ deadline: NIODeadline) -> Duration {
        .nanoseconds(Int64(truncatingIfNeeded: deadline.uptimeNanoseconds &- origins.uptimeNanoseconds))
    }
}

/// What every call of one method shares: made once per method when the server starts, with what
/// each interceptor prepared for it (``ServerInterceptor/prepare(forPath:access:)``).
public final class CallMethod: Sendable {
    /// `/service/method`.
    public let path: String
    /// Fully qualified service name: `karokar.fleet.v1.FleetService`.
    public let service: String
    /// Short method name: `RegisterVehicle`.
    public let name: String
    /// Who may call it, as its `.proto` declares.
    public let access: MethodAccess
    /// By interceptor type; a handful at most, so a list.
    private let preparations: [(interceptor: ObjectIdentifier, value: any AnyObject & Sendable)]

    public init(path: String, service: String, name: String, access: MethodAccess, interceptors: [any ServerInterceptor] = []) {
        self.path = path
        self.service = service
        self.name = name
        self.access = access
        preparations = interceptors.compactMap { interceptor in
            interceptor.prepare(forPath: path, access: access).map { (ObjectIdentifier(type(of: interceptor)), $0) }
        }
    }

    /// What an interceptor of type `interceptor` prepared for this method, if it is a `Value`.
    public func prepared<Value: AnyObject & Sendable>(by interceptor: (some ServerInterceptor).Type, as _: Value.Type) -> Value? {
        let id = ObjectIdentifier(interceptor)
        for entry in preparations where entry.interceptor == id {
            // The usual case, exactly `Value`, without a dynamic cast (this runs on every call).
            return type(of: entry.value) == Value.self ? unsafeDowncast(entry.value, to: Value.self) : entry.value as? Value
        }
        return nil
    }
}

/// What every call of one connection shares: made once per connection (again after its HELLO,
/// which names the client in the logger).
public final class CallConnection: Sendable {
    /// The remote address, for logs.
    public let peer: String
    /// The connection's logger (`rpc.peer`, `rpc.client`).
    public let logger: Logger
    public let attributes: ConnectionAttributes
    /// With mutual TLS: the identity of the client's verified certificate, e.g. `CN=billing`.
    public let clientCertificate: String?

    public init(
        peer: String, logger: Logger, attributes: ConnectionAttributes = ConnectionAttributes(), clientCertificate: String? = nil
    ) {
        self.peer = peer
        self.logger = logger
        self.attributes = attributes
        self.clientCertificate = clientCertificate
    }
}

private final class LoggerBox: Sendable {
    let logger: Logger

    init(_ logger: Logger) {
        self.logger = logger
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
///
/// A call to a method with an immediate handler (``RPCRoute/init(_:immediateHandler:)``) first
/// asks every interceptor for ``admitNow(context:)``; only when all of them decide on the spot is
/// it answered on the connection's event loop, with no task. Otherwise it runs in a task through
/// ``intercept(context:next:)`` like any other call.
public protocol ServerInterceptor: Sendable {
    func intercept(
        context: ServerCallContext,
        next: (ServerCallContext) async throws -> ByteBuffer
    ) async throws -> ByteBuffer

    /// The decision ``intercept(context:next:)`` would take before calling `next`, taken without
    /// suspending: true to continue with `context` (updated as `intercept` would update it), or
    /// the error that refuses the call. False, with `context` unchanged, when the decision cannot
    /// be taken without suspending (a database lookup, say), or when the interceptor does more
    /// than admit (works on the response, times the call): the call then takes the task path,
    /// where ``intercept(context:next:)`` runs. It must decide exactly as `intercept` would, and
    /// may only have the effects `intercept` has before `next`. The default returns false.
    func admitNow(context: inout ServerCallContext) throws(RPCError) -> Bool

    /// What this interceptor wants to know about a method before its calls arrive (its access
    /// rule, say), worked out once per method when the server starts rather than on every call;
    /// each call finds it in `context.methodInfo.prepared(by:as:)`, keyed by the interceptor's
    /// type. Nil (the default): nothing. A context built by hand has none, so read it with a
    /// fallback.
    func prepare(forPath path: String, access: MethodAccess) -> (any AnyObject & Sendable)?
}

extension ServerInterceptor {
    public func admitNow(context: inout ServerCallContext) throws(RPCError) -> Bool { false }

    public func prepare(forPath path: String, access: MethodAccess) -> (any AnyObject & Sendable)? { nil }
}
