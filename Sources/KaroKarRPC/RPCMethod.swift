public import KaroKarProto
import KaroKarMessages
public import NIOCore

/// Who may call a method, as its `.proto` declares it (`option (karokar.options.v1.access)`,
/// Protos/karokar/options/v1/access.proto): the code generator copies it into the method table,
/// and fails on a method that declares none. The server's authorization interceptor enforces it.
public enum MethodAccess: Sendable, Hashable {
    /// Callable without credentials (credentials that are sent are still verified).
    case `public`
    /// Any authenticated principal; the handler scopes what it returns to the caller.
    case authenticated
    /// At least one of these permissions (`resource.action`), sorted.
    case permissions([String])
}

/// A method, typed by its request and response messages. Generated per RPC.
public struct RPCMethod<Request: ProtoMessage, Response: ProtoMessage>: Sendable, Hashable {
    /// Fully qualified service name: `karokar.fleet.v1.FleetService`.
    public let service: String
    /// Short method name: `RegisterVehicle`.
    public let name: String
    /// `/service/name`, the value of `Call.method` on the wire.
    public let path: String
    /// Who may call it, as declared in its `.proto`.
    public let access: MethodAccess

    public init(service: String, name: String, access: MethodAccess) {
        self.service = service
        self.name = name
        self.path = "/\(service)/\(name)"
        self.access = access
    }
}

/// One method bound to its handler, with request decoding and response encoding erased.
public struct RPCRoute: Sendable {
    public let name: String
    /// Who may call the method (from its `.proto`).
    public let access: MethodAccess
    public let requestDescriptor: ProtoMessageDescriptor
    public let responseDescriptor: ProtoMessageDescriptor
    public let requestTypeName: String
    public let responseTypeName: String
    /// Decodes the request, runs the handler, encodes the response.
    @usableFromInline package let invoke: @Sendable (_ payload: ByteBuffer, _ context: ServerCallContext) async throws -> ByteBuffer
    /// For a method with an immediate handler (nil for the others): decodes the request, runs the
    /// handler and appends the call's successful REPLY frame to the buffer (the connection's
    /// outgoing bytes), without suspending. Appends nothing when it throws.
    @usableFromInline package let invokeNow: ImmediateInvocation?

    /// The signature of ``invokeNow``: payload, context, the buffer to append the REPLY to.
    @usableFromInline package typealias ImmediateInvocation = @Sendable (ByteBuffer, ServerCallContext, inout ByteBuffer) throws -> Void

    /// Inlinable so that decoding and encoding are specialized for the method's message types.
    @inlinable
    public init<Request, Response>(
        _ method: RPCMethod<Request, Response>,
        handler: @escaping @Sendable (Request, ServerCallContext) async throws -> Response
    ) {
        let strings = ProtoCodec.mayHoldStrings(Request.protoDescriptor)
        self.init(method) { payload, context in
            let request: Request = try RPCRoute.decodeRequest(payload, strings: strings)
            return ByteBuffer(encoding: try await handler(request, context), headroom: FrameLayout.okReplyHeadroom)
        }
    }

    /// A handler that answers with the response already encoded, for answers kept in encoded
    /// form (Identity's WhoAmI). The bytes must be a valid `Response`; start them at least
    /// ``responseHeadroom`` bytes into the buffer (``ByteBuffer/init(encoding:headroom:)`` does)
    /// and the REPLY header is written in front of them without a copy.
    @inlinable
    public init<Request, Response>(
        _ method: RPCMethod<Request, Response>,
        encodedHandler handler: @escaping @Sendable (Request, ServerCallContext) async throws -> ByteBuffer
    ) {
        let strings = ProtoCodec.mayHoldStrings(Request.protoDescriptor)
        self.init(method) { payload, context in
            try await handler(RPCRoute.decodeRequest(payload, strings: strings) as Request, context)
        }
    }

    /// A handler that answers without suspending and in a few microseconds at most (no I/O, no
    /// actor, no lock held for long): Echo, health checks, answers computed from what the
    /// interceptors attached. When every interceptor also decides without suspending
    /// (``ServerInterceptor/admitNow(context:)``), the call is answered on its connection's event
    /// loop as the CALL frame is read: no task, no hop back to the loop, and the response is
    /// encoded straight into the connection's outgoing bytes. Otherwise it runs in a task, as any
    /// handler does.
    @inlinable
    public init<Request, Response>(
        _ method: RPCMethod<Request, Response>,
        immediateHandler handler: @escaping @Sendable (Request, ServerCallContext) throws -> Response
    ) {
        let strings = ProtoCodec.mayHoldStrings(Request.protoDescriptor)
        self.init(
            method,
            invoke: { payload, context in
                ByteBuffer(encoding: try handler(RPCRoute.decodeRequest(payload, strings: strings) as Request, context), headroom: FrameLayout.okReplyHeadroom)
            },
            invokeNow: { payload, context, out in
                out.writeOKReply(callID: context.callID, encoding: try handler(RPCRoute.decodeRequest(payload, strings: strings) as Request, context))
            }
        )
    }

    /// An immediate handler (``init(_:immediateHandler:)``) that answers with the response
    /// already encoded, as ``init(_:encodedHandler:)`` does.
    @inlinable
    public init<Request, Response>(
        _ method: RPCMethod<Request, Response>,
        immediateEncodedHandler handler: @escaping @Sendable (Request, ServerCallContext) throws -> ByteBuffer
    ) {
        let strings = ProtoCodec.mayHoldStrings(Request.protoDescriptor)
        self.init(
            method,
            invoke: { payload, context in try handler(RPCRoute.decodeRequest(payload, strings: strings) as Request, context) },
            invokeNow: { payload, context, out in
                out.writeOKReply(callID: context.callID, payload: try handler(RPCRoute.decodeRequest(payload, strings: strings) as Request, context))
            }
        )
    }

    @usableFromInline
    init<Request, Response>(
        _ method: RPCMethod<Request, Response>,
        invoke: @escaping @Sendable (_ payload: ByteBuffer, _ context: ServerCallContext) async throws -> ByteBuffer,
        invokeNow: ImmediateInvocation? = nil
    ) {
        self.name = method.name
        self.access = method.access
        self.requestDescriptor = Request.protoDescriptor
        self.responseDescriptor = Response.protoDescriptor
        self.requestTypeName = Request.protoName
        self.responseTypeName = Response.protoName
        self.invoke = invoke
        self.invokeNow = invokeNow
    }

    /// True for a method with an immediate handler.
    public var isImmediate: Bool { invokeNow != nil }

    /// The request payload decoded as `Request`; INVALID_ARGUMENT (or RESOURCE_EXHAUSTED past the
    /// decoding budget) when it is not one, or when a string field holds NUL (which protobuf-c
    /// would cut off: PROTOCOL.md section 17). Shared by both kinds of handler.
    @inlinable
    /// `strings`: whether `Request` can hold a string at all (``ProtoCodec/mayHoldStrings(_:)``,
    /// worked out once per method); when not, no NUL check is needed.
    static func decodeRequest<Request: ProtoMessage>(_ payload: ByteBuffer, strings: Bool) throws -> Request {
        do {
            return try payload.withUnsafeReadableBytes { bytes in
                let request = try ProtoCodec.decode(Request.self, from: bytes)
                if strings, let field = ProtoCodec.stringHoldingNul(Request.protoDescriptor, in: bytes) {
                    throw ProtoDecodingError.nulInString(field: field)
                }
                return request
            }
        } catch let error as ProtoDecodingError {
            throw RPCError.undecodable(Request.protoName, error)
        }
    }

    /// The bytes to leave free in front of an encoded response for the REPLY header.
    public static var responseHeadroom: Int { FrameLayout.okReplyHeadroom }
}

extension ByteBuffer {
    /// `message`, encoded by protobuf-c into a buffer of exactly its size, plus `headroom` unused
    /// bytes before it (the readable bytes start after them) so a header can be put in front
    /// without a copy.
    @inlinable
    public init<M: ProtoMessage>(encoding message: M, headroom: Int = 0) {
        self = ProtoCodec.encode(message) { size, pack in
            var buffer = ByteBufferAllocator().buffer(capacity: headroom + size)
            if headroom > 0 {
                buffer.moveWriterIndex(forwardBy: headroom)
                buffer.moveReaderIndex(forwardBy: headroom)
            }
            if size > 0 {
                buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
                    pack(out.baseAddress!)
                    return size
                }
            }
            return buffer
        }
    }
}

extension RPCError {
    /// The status for a request payload that does not decode as `typeName`.
    @usableFromInline
    static func undecodable(_ typeName: String, _ error: ProtoDecodingError) -> RPCError {
        var details = CommonV1.ErrorDetails(domainCode: TransportDomainCode.malformedPayload)
        if case .nulInString(let field) = error {
            details.fieldViolations = [CommonV1.FieldViolation(field: field, code: "MALFORMED", description: "\(field) contains NUL (U+0000)")]
        }
        return RPCError(error.isBudget ? .resourceExhausted : .invalidArgument, "cannot decode \(typeName): \(error)", details: details)
    }
}

extension ProtoDecodingError {
    var isBudget: Bool {
        if case .budgetExceeded = self { return true }
        return false
    }
}

/// A service's method table: protobuf-c's service descriptor with a handler for each method.
///
/// Built by the generated `serviceDefinition()`; the descriptor decides which methods exist and
/// what they take, so the wire, the C codec and the Swift handlers cannot disagree.
public struct RPCServiceDefinition: Sendable {
    public let descriptor: ProtoServiceDescriptor
    /// Routes in descriptor order.
    public let routes: [RPCRoute]
    /// Where the service's call tasks run after their first suspension; nil: Swift's global
    /// concurrent executor. A database-bound service gives its database pool's I/O executor, so a
    /// call resumes where its replies arrive instead of on another thread.
    public var executor: (any TaskExecutor)?

    public init(descriptor: ProtoServiceDescriptor, routes: [RPCRoute]) {
        precondition(routes.count == descriptor.methods.count, "\(descriptor.name): a handler per method is required")
        self.descriptor = descriptor
        self.routes = descriptor.methods.map { method in
            guard let route = routes.first(where: { $0.name == method.name }) else {
                preconditionFailure("\(descriptor.name)/\(method.name) has no handler")
            }
            precondition(
                route.requestDescriptor == method.input && route.responseDescriptor == method.output,
                "\(descriptor.name)/\(method.name): handler types differ from protobuf-c's descriptor"
            )
            return route
        }
    }

    /// This definition with the route of the same name replaced by `route` (one answered from
    /// encoded bytes, say); the method must exist and take the same messages.
    public func replacing(_ route: RPCRoute) -> RPCServiceDefinition {
        guard let index = routes.firstIndex(where: { $0.name == route.name }) else {
            preconditionFailure("\(descriptor.name) has no method \(route.name)")
        }
        precondition(
            routes[index].requestDescriptor == route.requestDescriptor && routes[index].responseDescriptor == route.responseDescriptor,
            "\(descriptor.name)/\(route.name): the replacement takes other messages"
        )
        var routes = routes
        routes[index] = route
        var definition = RPCServiceDefinition(descriptor: descriptor, routes: routes)
        definition.executor = executor
        return definition
    }
}
