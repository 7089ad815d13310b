public import KaroKarPostgres

/// How a context's use cases open their transactions: the one way, so that idempotency, events'
/// origin and isolation are the same in every context (Sources/README.md, "The shape of a
/// context").
extension EventBus {
    /// A use case that changes something: one transaction; idempotent on the invocation's key
    /// (a retry gets the first call's `Result`, decoded from what was stored, and changes
    /// nothing); every event it publishes carries the invocation's origin.
    public func mutation<Result: Codable & Sendable>(
        _ invocation: Invocation, isolation: IsolationLevel = .readCommitted, _ body: (UnitOfWork) async throws -> Result
    ) async throws -> Result {
        guard let claim = invocation.idempotency else {
            return try await transaction(invocation.origin, isolation: isolation, body)
        }
        return try await transaction(invocation.origin, isolation: isolation) { work in
            if let first = try await claim.claim(Result.self, in: work) { return first }
            let result = try await body(work)
            try await claim.record(result, in: work)
            return result
        }
    }

    /// A use case that only reads: one repeatable-read transaction, so a page is a consistent
    /// snapshot.
    public func read<Result: Sendable>(_ invocation: Invocation, _ body: (UnitOfWork) async throws -> Result) async throws -> Result {
        try await transaction(invocation.origin, isolation: .repeatableRead, body)
    }
}
