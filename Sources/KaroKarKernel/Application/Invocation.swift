import Foundation
public import KaroKarProto
public import KaroKarRPC

/// A request as a context's use cases see it: who asks (always explicit, see ``Caller``), the
/// origin its events carry, and the idempotency key it was sent with. The RPC layer builds it
/// once per call, at the edge; use cases never see the wire call or its metadata.
public struct Invocation: Sendable {
    public let caller: Caller
    /// Copied into every event the use case publishes.
    public let origin: EventOrigin
    /// The key and what it is bound to, when the call carried `idempotency-key`.
    let idempotency: IdempotencyClaim?

    /// The invocation of an RPC. `fingerprint` is the request as the idempotency record hashes
    /// it (blank secrets in it first: a fast hash of a request would be a fast hash of its
    /// password). A call without credentials acts as ``Caller/anonymous``.
    public init(_ context: ServerCallContext, fingerprint: some ProtoMessage) throws(RPCError) {
        let caller = context.caller ?? .anonymous
        self.caller = caller
        origin = EventOrigin(call: context)
        idempotency = try IdempotencyClaim(context, caller: caller) { ProtoCodec.encode(fingerprint) }
    }

    /// Work the server does by itself (a sweep, a job): the system acts, with a fresh correlation.
    public static func system(organizationID: String = "") -> Invocation {
        Invocation(caller: .system, origin: .system(organizationID: organizationID), idempotency: nil)
    }

    /// A reaction to an event, acting as the system in the event's tenant and correlation.
    public static func reaction(to origin: EventOrigin) -> Invocation {
        Invocation(caller: .system, origin: origin, idempotency: nil)
    }

    /// The same call (caller, idempotency key) with its events attributed to `origin`: for a
    /// public method whose actor the call itself creates (a registration's applicant).
    public func attributed(to origin: EventOrigin) -> Invocation {
        Invocation(caller: caller, origin: origin, idempotency: idempotency)
    }

    init(caller: Caller, origin: EventOrigin, idempotency: IdempotencyClaim?) {
        self.caller = caller
        self.origin = origin
        self.idempotency = idempotency
    }
}
