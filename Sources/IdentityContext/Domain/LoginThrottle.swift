import Crypto
import KaroKarKernel

/// Failed logins (decided; the README, "Authentication"). Counted per account *and client
/// address*, so that an attacker's failures lock the attacker's address out of the account, never
/// its owner elsewhere: the first `freeFailures` of a pair cost nothing; each failure after that
/// locks the pair for `baseLock`, doubling with every further failure, up to `maximumLock`. A
/// successful login clears its pair. When failures pile up for one account from many addresses
/// (`slowDownAfter` or more within `slowDownWindow`), every attempt at it waits before it is
/// checked: `slowDownStep` for each `slowDownAfter` failures, at most `maximumSlowDownSteps`
/// of them. A delay, never a refusal: the owner still gets in. Counted in the database, so every
/// server process sees the same counts.
public struct LoginThrottle: Sendable, Hashable {
    public var freeFailures: Int
    public var baseLock: Duration
    public var maximumLock: Duration
    /// 0 turns the slow-down off.
    public var slowDownAfter: Int
    public var slowDownStep: Duration
    public var slowDownWindow: Duration = .seconds(900)
    public var maximumSlowDownSteps = 5

    public init(
        freeFailures: Int = 5, baseLock: Duration = .seconds(30), maximumLock: Duration = .seconds(3600), slowDownAfter: Int = 20,
        slowDownStep: Duration = .seconds(1)
    ) {
        self.freeFailures = freeFailures
        self.baseLock = baseLock
        self.maximumLock = maximumLock
        self.slowDownAfter = slowDownAfter
        self.slowDownStep = slowDownStep
    }

    /// How long the pair is locked after its `failures`-th consecutive failure.
    public func lock(afterFailures failures: Int) -> Duration {
        guard failures >= freeFailures else { return .zero }
        let doublings = min(failures - freeFailures, 30)
        let seconds = min(baseLock.components.seconds << doublings, maximumLock.components.seconds)
        return .seconds(seconds)
    }

    /// How long an attempt at an account waits, given the failures counted for it from every
    /// address within `slowDownWindow`.
    public func slowDown(recentFailures: Int) -> Duration {
        guard slowDownAfter > 0, recentFailures >= slowDownAfter else { return .zero }
        return slowDownStep * min(recentFailures / slowDownAfter, maximumSlowDownSteps)
    }
}

/// The account a login names, for counting its failures: a digest of the e-mail as typed
/// (lower-cased), whether a user has it or not, so that a failure costs the same work for an
/// unknown e-mail as for a known one, and the counts name no user.
struct LoginAccount: Hashable, Sendable {
    let digest: [UInt8]

    init(email: String) {
        digest = Array(SHA256.hash(data: Array(email.lowercased().utf8)))
    }
}

/// What the counts say about a login attempt before its password is checked.
struct LoginStanding: Sendable, Hashable {
    /// The pair (account, address) is locked: refused without checking the password.
    var locked: Bool
    /// Failures at the account from every address within the throttle's window.
    var recentFailures: Int
}
