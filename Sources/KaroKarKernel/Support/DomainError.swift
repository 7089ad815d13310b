public import KaroKarMessages
public import KaroKarRPC

/// A business failure with its wire status and stable domain code (DOMAIN.md section 2,
/// "Errors"). Contexts throw these; the RPC layer sends them as they are. Messages are for
/// people and never carry database text or another tenant's data.
public struct DomainError: Error, RPCErrorConvertible, Hashable, CustomStringConvertible {
    public let rpcError: RPCError

    public init(_ code: RPCCode, _ domainCode: String, _ message: String) {
        rpcError = RPCError(code, message, domainCode: domainCode)
    }

    /// A refusal the caller should retry after `retryAfter` (a rate limit, a full queue): sent
    /// with `retry_info.retry_delay_millis`, rounded up to whole milliseconds, 1 ms to one day.
    public init(_ code: RPCCode, _ domainCode: String, _ message: String, retryAfter: Duration) {
        let millis = UInt64(min(max((retryAfter / .milliseconds(1)).rounded(.up), 1), 86_400_000))
        let details = CommonV1.ErrorDetails(domainCode: domainCode, retryInfo: CommonV1.RetryInfo(retryDelayMillis: millis))
        rpcError = RPCError(code, message, details: details)
    }

    public var description: String { rpcError.description }
    public var domainCode: String? { rpcError.domainCode }

    /// Anything the caller may not see answers like this, so existence does not leak. The domain
    /// code names the kind of entity, so that clients can switch on it: `notFound("vehicle")`
    /// is NOT_FOUND / `VEHICLE_NOT_FOUND`, `notFound("maintenance record")`
    /// `MAINTENANCE_RECORD_NOT_FOUND` (it says no more than the message always did).
    public static func notFound(_ what: String) -> DomainError {
        DomainError(.notFound, notFoundCode(what), "\(what) not found")
    }

    /// `VEHICLE_NOT_FOUND` for "vehicle": upper case, anything but letters and digits as `_`.
    public static func notFoundCode(_ what: String) -> String {
        String(what.uppercased().unicodeScalars.map { ("A"..."Z").contains($0) || ("0"..."9").contains($0) ? Character($0) : "_" }) + "_NOT_FOUND"
    }

    /// A state-machine rule refused the action (`INVALID_BOOKING_TRANSITION`, ...).
    public static func failedPrecondition(_ domainCode: String, _ message: String) -> DomainError {
        DomainError(.failedPrecondition, domainCode, message)
    }

    public static func alreadyExists(_ domainCode: String, _ message: String) -> DomainError {
        DomainError(.alreadyExists, domainCode, message)
    }

    /// The caller sent the version it read, and the aggregate has changed since.
    public static func staleVersion(_ what: String, expected: Int64, actual: Int64) -> DomainError {
        DomainError(.aborted, "STALE_VERSION", "\(what) is at version \(actual), not \(expected); read it again")
    }

    public static func permissionDenied(_ message: String) -> DomainError {
        DomainError(.permissionDenied, "PERMISSION_DENIED", message)
    }
}

/// Optimistic concurrency (DOMAIN.md section 2): a request may carry the version it read.
public enum ExpectedVersion {
    /// Throws ABORTED / `STALE_VERSION` when `expected` is present and differs from `actual`.
    public static func check(_ expected: Int64?, _ actual: Int64, _ what: String) throws(DomainError) {
        if let expected, expected != actual {
            throw DomainError.staleVersion(what, expected: expected, actual: actual)
        }
    }
}
