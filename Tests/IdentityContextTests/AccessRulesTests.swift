import Foundation
@testable import IdentityContext
import KaroKarKernel
import KaroKarRPC
import Synchronization
import Testing

/// Pure rules: password hashes, the login throttle, what an organization's status leaves its
/// members, and the principal cache's guards.
@Suite("Identity: rules")
struct AccessRulesTests {
    @Test func passwordHashesVerifyAndRoundTripThroughTheirStoredForm() throws {
        let parameters = ScryptParameters(logN: 10, blockSize: 8, parallelism: 1)
        let hash = try PasswordHash.make("a long enough passphrase", parameters: parameters)
        #expect(try hash.matches("a long enough passphrase"))
        #expect(try !hash.matches("a long enough passphrasE"))
        let stored = hash.encoded
        #expect(stored.hasPrefix("$scrypt$ln=10,r=8,p=1$"))
        #expect(PasswordHash(encoded: stored) == hash)
        #expect(try PasswordHash.make("a long enough passphrase", parameters: parameters) != hash, "a fresh salt each time")
        for bad in ["", "$scrypt$ln=10,r=8,p=1$$", "$bcrypt$ln=10,r=8,p=1$AAAA$AAAA", "$scrypt$ln=40,r=8,p=1$AAAA$" + String(repeating: "A", count: 43)] {
            #expect(PasswordHash(encoded: bad) == nil, "\(bad)")
        }
    }

    @Test func uuidsAreWrittenLikeFoundationWritesThemInLowerCase() {
        for _ in 0..<200 {
            let id = UUID()
            #expect(id.lowercasedString == id.uuidString.lowercased())
        }
    }

    @Test func bearerTokensAreReadFromTheAuthorizationEntry() throws {
        func parse(_ value: String?) throws(RPCError) -> String? {
            try BearerToken.parse(value.map { Metadata([("authorization", $0)]) } ?? Metadata())
        }
        #expect(try parse(nil) == nil)
        #expect(try parse("Bearer abc.def.ghi") == "abc.def.ghi")
        #expect(try parse("bEaReR abc") == "abc")
        for bad in ["Bearer", "Bearer ", "Basic abc", "Bearer a b", "Bearer\u{0}abc", "Bearer\tabc", "Bearer é", "Bearerxabc"] {
            #expect(throws: RPCError.self, "\(bad)") { _ = try parse(bad) }
        }
    }

    @Test func passwordPolicy() {
        #expect(PasswordPolicy.weakness(of: "correct horse battery staple", email: "asha@example.com") == nil)
        #expect(PasswordPolicy.weakness(of: "short", email: "asha@example.com") != nil)
        #expect(PasswordPolicy.weakness(of: "aaaaaaaaaaaaaaaa", email: "asha@example.com") != nil)
        #expect(PasswordPolicy.weakness(of: "my name is Asha.Rao 1", email: "asha.rao@example.com") != nil)
        #expect(PasswordPolicy.weakness(of: String(repeating: "ab cd ", count: 30), email: "x@example.com") != nil)
    }

    @Test func lockGrowsAfterTheFreeFailuresAndIsCapped() {
        let throttle = LoginThrottle(freeFailures: 5, baseLock: .seconds(30), maximumLock: .seconds(3600))
        #expect((1...4).map(throttle.lock(afterFailures:)) == [.zero, .zero, .zero, .zero])
        #expect(throttle.lock(afterFailures: 5) == .seconds(30))
        #expect(throttle.lock(afterFailures: 6) == .seconds(60))
        #expect(throttle.lock(afterFailures: 8) == .seconds(240))
        #expect(throttle.lock(afterFailures: 40) == .seconds(3600))
    }

    @Test func organizationStatusBoundsWhatMembersMayDo() {
        let admin: Set<Permission> = [.organizationRead, .memberManage, .memberRead, .vehicleCreate, .bookingCreate, .bookingRead, .verificationSubmit]
        #expect(EffectivePermissions.resolve(admin, organizationStatus: .active) == admin)
        #expect(EffectivePermissions.resolve(admin, organizationStatus: .pending) == [.organizationRead, .memberManage, .memberRead, .verificationSubmit])
        #expect(EffectivePermissions.resolve(admin, organizationStatus: .suspended) == [.organizationRead, .memberManage, .memberRead, .bookingRead, .verificationSubmit])
        #expect(EffectivePermissions.resolve(admin, organizationStatus: .rejected) == [.organizationRead])
    }

    func principal(user: UUID = UUID(), organization: UUID = UUID(), membership: UUID) -> Principal {
        let now = Instant(microseconds: 0)
        return Principal(
            organization: OrganizationRecord(id: organization, name: "o", kind: .vendor, status: .active, parentID: nil, metadata: [:], version: 1, createdAt: now, updatedAt: now),
            granted: [.organizationRead],
            user: UserRecord(id: user, firstName: "a", lastName: "b", email: "a@b.c", phone: nil, status: .active, version: 1, createdAt: now, updatedAt: now),
            membership: MembershipRecord(id: membership, userID: user, organizationID: organization, roleID: UUID(), roleName: "VENDOR_STAFF", status: .active, version: 1, createdAt: now, updatedAt: now),
            serviceAccount: nil
        )
    }

    /// A monotonic clock the test moves (the cache's lifetimes are monotonic).
    final class ManualMonotonicClock: Sendable {
        let instant = Mutex(ContinuousClock.now)
        func advance(_ by: Duration) { instant.withLock { $0 += by } }
        var now: ContinuousClock.Instant { instant.withLock { $0 } }
    }

    @Test func cacheEntriesExpireAndInvalidationsWin() {
        let clock = ManualMonotonicClock()
        let cache = PrincipalCache(timeToLive: .seconds(30), now: { clock.now })
        let membership = UUID()
        let key = PrincipalKey.membership(membership)
        let loaded = principal(membership: membership)

        guard case .miss(let generation) = cache.lookup(key) else { Issue.record("empty cache"); return }
        cache.store(key, loaded, loadedAt: generation)
        guard case .hit(let hit) = cache.lookup(key) else { Issue.record("stored"); return }
        #expect(hit?.membership?.id == membership)
        clock.advance(.seconds(31))
        guard case .miss = cache.lookup(key) else { Issue.record("expired"); return }

        guard case .miss(let before) = cache.lookup(key) else { return }
        cache.invalidate(.user(UUID()))  // any invalidation while loading
        cache.store(key, loaded, loadedAt: before)
        guard case .miss = cache.lookup(key) else { Issue.record("a load older than an invalidation is not stored"); return }
    }

    @Test func holdOffsKeepUncommittedChangesOutOfTheCache() {
        let clock = ManualMonotonicClock()
        let cache = PrincipalCache(timeToLive: .seconds(30), now: { clock.now })
        let user = UUID()
        let membership = UUID()
        let key = PrincipalKey.membership(membership)
        cache.invalidate(.user(user), holdOff: .seconds(10))
        guard case .miss(let generation) = cache.lookup(key) else { return }
        cache.store(key, principal(user: user, membership: membership), loadedAt: generation)
        guard case .miss = cache.lookup(key) else { Issue.record("held off"); return }
        clock.advance(.seconds(11))
        guard case .miss(let later) = cache.lookup(key) else { return }
        cache.store(key, principal(user: user, membership: membership), loadedAt: later)
        guard case .hit = cache.lookup(key) else { Issue.record("cached again once the hold-off ended"); return }
        cache.invalidate(.organization(UUID()))
        guard case .hit = cache.lookup(key) else { Issue.record("another organization's change leaves it"); return }
    }
}
