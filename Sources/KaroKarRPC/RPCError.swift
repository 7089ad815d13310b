public import KaroKarMessages

/// gRPC's canonical status codes (same numbers), generated from `karokar.rpc.v1.Code`.
public typealias RPCCode = RPCV1.Code

/// The failure of a call: a status code, a message for people, and structured details (domain
/// code, field violations) for programs. What the server sends and what the client throws.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: RPCCode
    public var message: String
    public var details: CommonV1.ErrorDetails?

    public init(_ code: RPCCode, _ message: String, details: CommonV1.ErrorDetails? = nil) {
        self.code = code
        self.message = message
        self.details = details
    }

    public init(_ code: RPCCode, _ message: String, domainCode: String) {
        self.init(code, message, details: CommonV1.ErrorDetails(domainCode: domainCode))
    }

    /// The stable business code, if any (`VEHICLE_NOT_AVAILABLE`, ...).
    public var domainCode: String? {
        guard let code = details?.domainCode, !code.isEmpty else { return nil }
        return code
    }

    public var fieldViolations: [CommonV1.FieldViolation] {
        details?.fieldViolations ?? []
    }

    public var description: String {
        var text = "\(code.protoValueName ?? "CODE_\(code.rawValue)"): \(message)"
        if let domainCode { text += " [\(domainCode)]" }
        for violation in fieldViolations {
            text += "\n  \(violation.field): \(violation.description) (\(violation.code))"
        }
        return text
    }

    /// The wire form.
    public var status: RPCV1.Status {
        RPCV1.Status(code: code, message: message, details: details)
    }

    public init(status: RPCV1.Status) {
        self.init(status.code, status.message, details: status.details)
    }

    /// What a client is told of an unexpected failure: always this, with no details (the cause
    /// is in the server's log only).
    public static let internalError = RPCError(.internal, "internal error")

    /// A request field failed validation.
    public static func invalidArgument(_ violations: [CommonV1.FieldViolation], message: String? = nil) -> RPCError {
        RPCError(
            .invalidArgument, message ?? "the request has \(violations.count) invalid field(s)",
            details: CommonV1.ErrorDetails(fieldViolations: violations)
        )
    }
}

/// An error that knows its wire status. Domain errors conform in one place each (STYLE habit 4);
/// any other error reaches the client as INTERNAL with a fixed message.
public protocol RPCErrorConvertible: Error {
    var rpcError: RPCError { get }
}

/// Domain codes the transport itself uses (Protos/PROTOCOL.md, "Limits").
public enum TransportDomainCode {
    public static let draining = "DRAINING"
    public static let tooManyCalls = "TOO_MANY_CALLS"
    public static let metadataTooLarge = "METADATA_TOO_LARGE"
    public static let requestTooLarge = "REQUEST_TOO_LARGE"
    public static let malformedPayload = "MALFORMED_PAYLOAD"
    public static let malformedMetadata = "MALFORMED_METADATA"
    public static let unknownMethod = "UNKNOWN_METHOD"
}

/// Domain codes the server gives failures of what lies under the handlers, the database's
/// (Protos/PROTOCOL.md, section 7.6): not bugs, and worth retrying.
public enum InfrastructureDomainCode {
    /// UNAVAILABLE: the database cannot be reached or no connection to it became free in time.
    public static let databaseUnavailable = "DATABASE_UNAVAILABLE"
    /// ABORTED: the transaction kept conflicting with concurrent ones (serialization failures,
    /// deadlocks) beyond the server's own retries.
    public static let transactionConflict = "TRANSACTION_CONFLICT"
}
