import KaroKarKernel
import Synchronization

/// A ``RateLimit`` per client address, for one kind of public call (Login, RegisterOrganization,
/// ExchangeServiceAccountToken): over it, the call is refused at once (RESOURCE_EXHAUSTED /
/// `RATE_LIMITED`, with the time until the next token as `retry_info`).
///
/// Memory is bounded whatever the number of addresses: buckets live in two generations of at
/// most `capacity / 2` each; when the current one fills, it becomes the previous one and the old
/// previous one is dropped (a bucket used since moved to the current one). A forgotten client
/// starts again with a full bucket, which is what it would have after a quiet while, so
/// forgetting only ever errs toward letting a call in. In-process: each server process counts
/// its own clients.
final class ClientRateLimiter: Sendable {
    private struct Generations {
        var current: [ClientAddress: TokenBucket] = [:]
        var previous: [ClientAddress: TokenBucket] = [:]
    }

    let limit: RateLimit
    let capacity: Int
    private let clock: any WallClock
    private let message: String
    private let state = Mutex(Generations())

    init(_ limit: RateLimit, capacity: Int, clock: any WallClock, message: String) {
        self.limit = limit
        self.capacity = max(capacity, 2)
        self.clock = clock
        self.message = message
    }

    /// Counts a call from `client`; RESOURCE_EXHAUSTED / `RATE_LIMITED` when it has no token left.
    func admit(_ client: ClientAddress) throws(DomainError) {
        guard !limit.isUnlimited else { return }
        let now = clock.now()
        let wait = state.withLock { generations in
            var bucket = generations.current[client] ?? generations.previous.removeValue(forKey: client) ?? TokenBucket(limit, now: now)
            let wait = bucket.take(limit, now: now)
            if generations.current[client] == nil, generations.current.count >= capacity / 2 {
                generations.previous = generations.current
                generations.current = [:]
            }
            generations.current[client] = bucket
            return wait
        }
        if let wait { throw IdentityErrors.rateLimited(message, retryAfter: wait) }
    }

    /// Clients tracked (at most `capacity`).
    var count: Int { state.withLock { $0.current.count + $0.previous.count } }
}

/// The per-client limits of Identity's public calls that cost the server most.
struct ClientLimits: Sendable {
    let login: ClientRateLimiter
    let registration: ClientRateLimiter
    let tokenExchange: ClientRateLimiter

    init(_ configuration: IdentityConfiguration, clock: any WallClock) {
        let capacity = configuration.rateLimitedAddresses
        login = ClientRateLimiter(configuration.loginRate, capacity: capacity, clock: clock, message: "too many logins from this address; retry later")
        registration = ClientRateLimiter(
            configuration.registrationRate, capacity: capacity, clock: clock, message: "too many registrations from this address; retry later"
        )
        tokenExchange = ClientRateLimiter(
            configuration.tokenExchangeRate, capacity: capacity, clock: clock, message: "too many token exchanges from this address; retry later"
        )
    }
}
