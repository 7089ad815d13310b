import Foundation
@testable import IdentityContext
import KaroKarKernel
import KaroKarTestSupport
import Testing

/// The pure parts of rationing: whom a client address names, token buckets moved by a manual
/// clock, the limiter's memory bound, the lock and the slow-down of failed logins.
@Suite("Identity: rationing rules")
struct RationingRulesTests {
    @Test(arguments: [
        ("[IPv4]127.0.0.1/127.0.0.1:51234", "127.0.0.1"),
        ("[IPv4]203.0.113.7:443", "203.0.113.7"),
        ("[IPv6]2001:db8:1:2:aaaa:bbbb:cccc:dddd:51234", "2001:db8:1:2::/64"),
        ("[IPv6]2001:db8:1:2::7:51234", "2001:db8:1:2::/64"),
        ("[IPv6]localhost/::1:7420", "0:0:0:0::/64"),
        ("[IPv6]::ffff:198.51.100.9:51234", "198.51.100.9"),
        ("[UDS]/tmp/karokar.sock", "unknown"), ("?", "unknown"), ("[IPv4]not-an-address:1", "unknown"),
    ])
    func aPeerNamesItsAddressOrItsNetwork(peer: String, key: String) {
        #expect(ClientAddress(peer: peer).key == key)
    }

    @Test func aBucketGivesItsBurstThenOneTokenPerRefill() {
        let limit = RateLimit(perMinute: 6, burst: 3)  // a token every 10 s
        let clock = ManualClock()
        var bucket = TokenBucket(limit, now: clock.now())
        for _ in 0..<3 { #expect(bucket.take(limit, now: clock.now()) == nil) }
        #expect(bucket.take(limit, now: clock.now()) == .seconds(10))
        clock.advance(by: .seconds(4))
        #expect(bucket.take(limit, now: clock.now()) == .seconds(6), "refused attempts do not push the next token back")
        clock.advance(by: .seconds(6))
        #expect(bucket.take(limit, now: clock.now()) == nil)
        clock.advance(by: .seconds(3600))
        for _ in 0..<3 { #expect(bucket.take(limit, now: clock.now()) == nil) }
        #expect(bucket.take(limit, now: clock.now()) != nil, "never more than the burst, however long the wait")
        clock.advance(by: .seconds(-86_400))
        #expect(bucket.take(limit, now: clock.now()) != nil, "a clock that went back refills nothing")
        clock.set(Instant(microseconds: .max))
        #expect(bucket.take(limit, now: clock.now()) == nil, "and the far future does not trap")
    }

    @Test func theLimiterRefusesWithTheWaitAndForgetsOnlyWithinItsMemoryBound() throws {
        let clock = ManualClock()
        let limiter = ClientRateLimiter(RateLimit(perMinute: 60, burst: 1), capacity: 100, clock: clock, message: "slow down")
        let client = ClientAddress(key: "192.0.2.1")
        try limiter.admit(client)
        do {
            try limiter.admit(client)
            Issue.record("refused")
        } catch {
            #expect(error.domainCode == "RATE_LIMITED")
            #expect(error.rpcError.details?.retryInfo?.retryDelayMillis == 1000)
        }
        for index in 0..<10_000 { try limiter.admit(ClientAddress(key: "10.0.\(index / 256).\(index % 256)")) }
        #expect(limiter.count <= 100, "memory stays bounded whatever the number of addresses")
        #expect(throws: Never.self, "a forgotten client starts with a full bucket") { try limiter.admit(client) }
        let unlimited = ClientRateLimiter(RateLimit(perMinute: 0, burst: 1), capacity: 100, clock: clock, message: "")
        for _ in 0..<1000 { try unlimited.admit(client) }
        #expect(unlimited.count == 0)
    }

    @Test func aBusyClientStaysCountedWhileOthersComeAndGo() throws {
        let clock = ManualClock()
        let limiter = ClientRateLimiter(RateLimit(perMinute: 1, burst: 2), capacity: 10, clock: clock, message: "")
        let busy = ClientAddress(key: "192.0.2.1")
        try limiter.admit(busy)
        try limiter.admit(busy)
        for round in 0..<20 {
            try limiter.admit(ClientAddress(key: "10.0.0.\(round)"))
            #expect(throws: DomainError.self, "round \(round)") { try limiter.admit(busy) }
        }
    }

    @Test func failedLoginsLockTheirPairAndSlowTheAccountDown() {
        let throttle = LoginThrottle(freeFailures: 5, baseLock: .seconds(30), slowDownAfter: 20, slowDownStep: .seconds(1))
        #expect(throttle.lock(afterFailures: 4) == .zero)
        #expect(throttle.lock(afterFailures: 5) == .seconds(30))
        #expect(throttle.lock(afterFailures: 7) == .seconds(120))
        #expect(throttle.lock(afterFailures: 1_000_001) == .seconds(3600))
        #expect(throttle.slowDown(recentFailures: 19) == .zero)
        #expect(throttle.slowDown(recentFailures: 20) == .seconds(1))
        #expect(throttle.slowDown(recentFailures: 45) == .seconds(2))
        #expect(throttle.slowDown(recentFailures: .max) == .seconds(5), "at most five steps")
        var off = throttle
        off.slowDownAfter = 0
        #expect(off.slowDown(recentFailures: .max) == .zero)
    }

    @Test func anAccountIsItsEmailAsTypedWhateverItsCase() {
        #expect(LoginAccount(email: "Asha@Example.com") == LoginAccount(email: "asha@example.com"))
        #expect(LoginAccount(email: "asha@example.com").digest.count == 32)
    }
}
