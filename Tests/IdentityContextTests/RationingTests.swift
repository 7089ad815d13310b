import Foundation
import IdentityContext
import KaroKarMessages
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// Issue 19, finding 4: the public calls that cost the server most are rationed, over TCP. The
/// password-hashing queue is bounded and refuses at once with retry information; Login,
/// RegisterOrganization and ExchangeServiceAccountToken are limited per client address (clients
/// at other loopback addresses through ``AddressRelay``); cheap checks come before any hash.
@Suite("Identity: rationing expensive public calls", .serialized)
struct RationingTests {
    static let busy = "resourceExhausted/PASSWORD_HASHING_BUSY"
    static let limited = "resourceExhausted/RATE_LIMITED"
    static let refused = "unauthenticated/INVALID_CREDENTIALS"

    @Test func aFullHashingQueueRefusesAtOnceWithRetryInformationAndCountsNothing() async throws {
        // One thread, hashes of some tens of milliseconds, the default queue (4 per thread).
        try await TestMarketplace.run({
            $0.identity.passwordHashThreads = 1
            $0.identity.passwordHashLogN = 14
            $0.identity.passwordHashQueue = nil
        }) { market in
            let identity = market.identity
            let (tally, retries) = await outcomes(40) { index in
                _ = try await identity.login(IdentityV1.LoginRequest(email: "nobody-\(index)@example.com", password: "a guess at a password"))
            }
            #expect(Set(tally.keys).isSubset(of: [Self.busy, Self.refused]), "\(tally)")
            #expect(tally[Self.busy, default: 0] > 0, "a flood of logins is refused, not queued: \(tally)")
            #expect(tally[Self.refused, default: 0] >= 4, "the queue's places were used: \(tally)")
            #expect(retries.count == tally[Self.busy, default: 0] && retries.allSatisfy { $0 > 0 }, "every refusal says when to retry")
            let counted = try await market.pool.query("SELECT coalesce(sum(failures), 0)::int AS n FROM identity.login_failures").single()
            #expect(try counted.decode(Int.self, "n") == tally[Self.refused], "only the attempts checked count as failures")
            _ = try await market.platformAdmin()  // and the queue empties again
        }
    }

    @Test func aFloodOfLoginsFromOneAddressIsLimitedThereAndAnotherAddressSignsInAsUsual() async throws {
        try await TestMarketplace.run({ $0.identity.loginRate = RateLimit(perMinute: 6, burst: 5) }) { market in
            let vendor = try await market.register(.vendor)
            let attacker = try await AddressedClient.start(market.server, from: "127.0.0.2")
            let owner = try await AddressedClient.start(market.server, from: "127.0.0.3")
            let identity = attacker.identity
            async let flood = outcomes(200) { index in
                _ = try await identity.login(IdentityV1.LoginRequest(email: "nobody-\(index)@example.com", password: "a guess at a password"))
            }
            let session = try await owner.login(vendor.adminUser!.email)
            #expect(session.userID == vendor.adminUser!.id)
            let (tally, retries) = await flood
            #expect(tally[Self.refused] == 5, "the burst is checked: \(tally)")
            #expect(tally[Self.limited] == 195, "the rest is refused at once, before any work: \(tally)")
            #expect(retries.allSatisfy { (1...10_000).contains($0) }, "the next token comes within the refill time (10 s): \(retries.prefix(5))")
            await attacker.stop()
            await owner.stop()
        }
    }

    @Test func registrationsAreLimitedPerAddressAndTheLimitRefillsWithTime() async throws {
        let clock = ManualClock()
        let server = try await TestServer.startWithDatabase(clock: clock) { $0.identity.registrationRate = RateLimit(perMinute: 1, burst: 2) }
        let first = try await AddressedClient.start(server, from: "127.0.0.4")
        let second = try await AddressedClient.start(server, from: "127.0.0.5")
        func register(_ client: AddressedClient) async throws {
            let tag = UUID().uuidString.prefix(8).lowercased()
            _ = try await client.identity.registerOrganization(IdentityV1.RegisterOrganizationRequest(
                organizationName: "Org \(tag)", organizationType: .vendor, adminFirstName: "Asha", adminLastName: "Rao",
                adminEmail: "admin-\(tag)@example.com", adminPassword: TestMarketplace.password
            ))
        }
        try await register(first)
        try await register(first)
        let organizations = try await Self.organizations(server)
        do {
            try await register(first)
            Issue.record("a third registration from the address within the minute must be refused")
        } catch let error as RPCError {
            #expect(error.code == .resourceExhausted && error.domainCode == "RATE_LIMITED", "\(error)")
            #expect((1...60_000).contains(error.details?.retryInfo?.retryDelayMillis ?? 0), "\(error)")
        }
        #expect(try await Self.organizations(server) == organizations, "nothing was written")
        try await register(second)  // another address has its own allowance
        clock.advance(by: .seconds(60))
        try await register(first)  // a minute later, one more
        await first.stop()
        await second.stop()
        await server.stop()
    }

    @Test func tokenExchangesAreLimitedPerAddress() async throws {
        try await TestMarketplace.run({ $0.identity.tokenExchangeRate = RateLimit(perMinute: 1, burst: 2) }) { market in
            let vendor = try await market.onboard(.vendor)
            let created = try await market.identity.createServiceAccount(
                IdentityV1.CreateServiceAccountRequest(name: "worker", permissions: ["member.read"]), options: vendor.admin.callOptions
            )
            let request = IdentityV1.ExchangeServiceAccountTokenRequest(serviceAccountId: created.serviceAccount!.id, secret: created.secret)
            let caller = try await AddressedClient.start(market.server, from: "127.0.0.6")
            _ = try await caller.identity.exchangeServiceAccountToken(request)
            await expectCode(.unauthenticated, domainCode: "INVALID_CREDENTIALS") {
                _ = try await caller.identity.exchangeServiceAccountToken(IdentityV1.ExchangeServiceAccountTokenRequest(
                    serviceAccountId: created.serviceAccount!.id, secret: String(repeating: "A", count: 43)
                ))
            }
            await expectCode(.resourceExhausted, domainCode: "RATE_LIMITED") { _ = try await caller.identity.exchangeServiceAccountToken(request) }
            _ = try await market.identity.exchangeServiceAccountToken(request)  // from 127.0.0.1
            await caller.stop()
        }
    }

    @Test func aRegistrationWithATakenEmailIsRefusedBeforeAnyHash() async throws {
        // Hashes of a few hundred milliseconds: a refusal after one would take as long.
        try await TestMarketplace.run({ $0.identity.passwordHashLogN = 16 }) { market in
            let taken = try await market.register(.vendor).adminUser!.email
            var refusals: [Duration] = []
            var logins: [Duration] = []
            for _ in 0..<3 {
                let started = ContinuousClock.now
                await expectCode(.alreadyExists, domainCode: "DUPLICATE_EMAIL") { _ = try await market.register(.corporate, email: taken.uppercased()) }
                refusals.append(ContinuousClock.now - started)
                let login = ContinuousClock.now
                _ = try await market.login(taken)
                logins.append(ContinuousClock.now - login)
            }
            let refusal = refusals.sorted()[1]
            let hash = logins.sorted()[1]
            #expect(refusal * 4 < hash, "refused in \(refusal), a login (one hash) takes \(hash)")
            let retried = try await market.register(.corporate, email: "retried@example.com", options: CallOptions(metadata: Metadata([("idempotency-key", "r-1")])))
            let again = try await market.identity.registerOrganization(IdentityV1.RegisterOrganizationRequest(
                organizationName: retried.organization!.name, organizationType: .corporate, metadata: ["region": "IN-KA"],
                adminFirstName: "Asha", adminLastName: "Rao", adminEmail: "retried@example.com", adminPassword: TestMarketplace.password
            ), options: CallOptions(metadata: Metadata([("idempotency-key", "r-1")])))
            #expect(again == retried, "a retried registration still gets its first answer, not DUPLICATE_EMAIL")
        }
    }

    @Test func aLoginPasswordLongerThanAnyPasswordIsRefusedBeforeItIsHashed() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.register(.vendor)
            do {
                _ = try await market.identity.login(IdentityV1.LoginRequest(email: vendor.adminUser!.email, password: String(repeating: "é", count: 129)))
                Issue.record("refused")
            } catch let error as RPCError {
                #expect(error.code == .invalidArgument)
                #expect(error.fieldViolations.map(\.field) == ["password"] && error.fieldViolations.map(\.code) == ["TOO_LONG"], "\(error)")
            }
            let counted = try await market.pool.query("SELECT count(*)::int AS n FROM identity.login_failures").single()
            #expect(try counted.decode(Int.self, "n") == 0, "not an attempt at the account")
        }
    }

    static func organizations(_ server: TestServer) async throws -> Int {
        try await server.pool!.query("SELECT count(*)::int AS n FROM identity.organizations").single().decode(Int.self, "n")
    }
}
