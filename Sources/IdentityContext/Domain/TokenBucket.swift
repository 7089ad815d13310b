import KaroKarKernel

/// A rate for one client (decided; the README, "Rationing"): up to `burst` calls at once, then
/// `perMinute` a minute. `perMinute` 0 turns the limit off.
public struct RateLimit: Sendable, Hashable {
    public var perMinute: Int
    public var burst: Int

    public init(perMinute: Int, burst: Int) {
        self.perMinute = perMinute
        self.burst = burst
    }

    public var isUnlimited: Bool { perMinute <= 0 }

    /// The time one call's token takes to come back.
    var refill: Duration { .seconds(60) / max(perMinute, 1) }
}

/// One client's allowance under a ``RateLimit``: `tokens` at `updated`, refilled with time, at
/// most `burst`. A pure value: the limiter keeps one per client and passes the time in.
struct TokenBucket: Sendable, Hashable {
    /// Whole tokens plus the time already earned toward the next one.
    private(set) var tokens: Int
    private(set) var updated: Instant

    /// A client not seen before (or forgotten): a full bucket.
    init(_ limit: RateLimit, now: Instant) {
        tokens = max(limit.burst, 1)
        updated = now
    }

    /// Takes a token: nil when there was one, else how long until there is. A clock that went
    /// back refills nothing.
    mutating func take(_ limit: RateLimit, now: Instant) -> Duration? {
        refill(limit, now: now)
        guard tokens == 0 else {
            tokens -= 1
            return nil
        }
        return limit.refill - now.since(updated)
    }

    private mutating func refill(_ limit: RateLimit, now: Instant) {
        let capacity = max(limit.burst, 1)
        let elapsed = max(now.since(updated), .zero)
        let earned = elapsed / limit.refill  // a Double: never traps, whatever the clock did
        if tokens >= capacity || earned >= Double(capacity - tokens) {
            tokens = capacity
            updated = now
        } else if earned >= 1 {
            let whole = Int(earned)
            tokens += whole
            updated = updated + limit.refill * whole
        } else if now < updated {
            updated = now
        }
    }
}
