import KaroKarMessages
import KaroKarPostgres
public import KaroKarRPC

/// How failures of the layers under the handlers reach clients: one place, installed in the RPC
/// server as its ``KaroKarRPCServer/RPCServer/Configuration/errorTranslation`` (the RPC runtime
/// does not know the database). An outage or a full pool is UNAVAILABLE / `DATABASE_UNAVAILABLE`
/// with a retry delay, so that a client can tell it from a bug; only bugs stay INTERNAL.
public enum InfrastructureErrors {
    /// Suggested waits before retrying: an outage takes a while to end; a full pool frees a
    /// connection as soon as any call finishes.
    static let unavailableRetryMillis: UInt64 = 1000
    static let poolRetryMillis: UInt64 = 200
    static let conflictRetryMillis: UInt64 = 50

    /// The status for `error`, or nil when it has none (INTERNAL, logged by the dispatcher).
    @Sendable
    public static func translate(_ error: any Error) -> RPCError? {
        guard let error = error as? PostgresError else { return nil }
        switch error.category {
        case .unavailable:
            return retryable(.unavailable, "the database is unavailable; retry later", InfrastructureDomainCode.databaseUnavailable, unavailableRetryMillis)
        case .poolExhausted:
            return retryable(.unavailable, "the database is busy; retry later", InfrastructureDomainCode.databaseUnavailable, poolRetryMillis)
        case .conflict:
            return retryable(.aborted, "the change conflicted with concurrent ones; retry", InfrastructureDomainCode.transactionConflict, conflictRetryMillis)
        case .canceled:
            return RPCError(.cancelled, "the call was cancelled")
        case .constraintViolation, .bug:
            return nil
        }
    }

    private static func retryable(_ code: RPCCode, _ message: String, _ domainCode: String, _ millis: UInt64) -> RPCError {
        RPCError(code, message, details: CommonV1.ErrorDetails(domainCode: domainCode, retryInfo: CommonV1.RetryInfo(retryDelayMillis: millis)))
    }
}
