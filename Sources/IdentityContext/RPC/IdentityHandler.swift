import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import KaroKarServices

/// `karokar.identity.v1.IdentityService`: validation, mapping to and from messages, and the
/// unit of work (with the call's idempotency key) around each mutation. Split by concern into
/// `IdentityHandler+*.swift`.
struct IdentityHandler: IdentityV1.IdentityService.Handler {
    let service: IdentityService

    var bus: EventBus { service.bus }

    /// Runs a mutation through ``Idempotency``. `fingerprint` is the request as the idempotency
    /// record hashes it: passwords are blanked first (a fast hash of a request would otherwise
    /// be a fast hash of its password).
    func mutation<Request: ProtoMessage, Response: ProtoMessage>(
        _ context: ServerCallContext, fingerprint: Request, origin: EventOrigin? = nil, _ body: (UnitOfWork) async throws -> Response
    ) async throws -> Response {
        try await Idempotency.mutation(context, request: fingerprint, bus: bus, origin: origin ?? EventOrigin(call: context), body)
    }
}

extension Validation {
    /// Bounds a password that is checked, not set (a login, the current password): required, and
    /// at most 1024 bytes so that hashing it is bounded.
    mutating func presentedSecret(_ value: String, _ field: String) -> String {
        if value.isEmpty { add(field, "REQUIRED", "\(field) is required") }
        if value.utf8.count > 1024 { add(field, "TOO_LONG", "\(field) is longer than 1024 bytes") }
        return value
    }
}
