import Foundation
@testable import IdentityContext
import KaroKarKernel
import KaroKarTestSupport
import Testing

/// The pure parts of rationing: whom a client address names, the lock and the slow-down of
/// failed logins.
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
