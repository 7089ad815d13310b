/// Failed logins per account (decided; the context's README): the first `freeFailures` cost
/// nothing; each failure after that locks the account for `baseLock`, doubling with every further
/// failure, up to `maximumLock`. A successful login clears the count. Counted in the database, so
/// every server process sees the same count.
public struct LoginThrottle: Sendable, Hashable {
    public var freeFailures: Int
    public var baseLock: Duration
    public var maximumLock: Duration

    public init(freeFailures: Int = 5, baseLock: Duration = .seconds(30), maximumLock: Duration = .seconds(3600)) {
        self.freeFailures = freeFailures
        self.baseLock = baseLock
        self.maximumLock = maximumLock
    }

    /// How long the account is locked after its `failures`-th consecutive failure.
    public func lock(afterFailures failures: Int) -> Duration {
        guard failures >= freeFailures else { return .zero }
        let doublings = min(failures - freeFailures, 30)
        let seconds = min(baseLock.components.seconds << doublings, maximumLock.components.seconds)
        return .seconds(seconds)
    }
}
