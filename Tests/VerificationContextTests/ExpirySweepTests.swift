import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import KaroKarServer
import KaroKarTestSupport
import Testing
@testable import VerificationContext

/// The sweep with several server processes at once, the revocation's effect on Fleet, and the
/// state machine on every (state, command) pair.
@Suite("Verification: the expiry sweep across processes; revocation; the table", .serialized)
struct ExpirySweepTests {
    @Test("two servers sweeping at once (4 sweeps each, batches of 3) expire each of 20 verifications exactly once")
    func concurrentSweeps() async throws {
        let configure: @Sendable (inout ServerSettings) -> Void = {
            $0.verification.expirySweepInterval = nil
            $0.verification.expiryBatchSize = 3
        }
        let clock = ManualClock(Instant(Date()))
        try await TestMarketplace.run(clock: clock, configure) { market in
            let world = try await VerificationWorld.make(market)
            var ids: Set<String> = []
            for _ in 0..<20 {
                let submitted = try await world.submit(world.vendor.id, .businessRegistration, subjectType: .organization)
                ids.insert(try await world.approve(submitted.id, expiresAt: after(clock, 60)).id)
            }
            let second = try await TestServer.start(pool: market.pool, clock: clock, configure)
            let secondClient = second.client()
            clock.advance(by: .seconds(300))
            let clients = [market.client, secondClient]
            let platform = world.platform
            let runs = try await withThrowingTaskGroup(of: [String].self) { group in
                for index in 0..<8 {
                    let client = clients[index % 2]
                    group.addTask {
                        try await VerificationV1.VerificationService.Client(client)
                            .runVerificationExpirySweep(.init(), options: platform.callOptions).expired.map(\.id)
                    }
                }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            #expect(runs.count == 20 && Set(runs) == ids)
            #expect(try await world.count("SELECT count(*)::int FROM karokar_events.outbox WHERE event_type = 'verification.expired'") == 20)
            #expect(try await world.count("SELECT count(*)::int FROM verification.decisions WHERE status = 'EXPIRED'") == 20)
            await secondClient.close()
            await second.stop()
        }
    }

    @Test("revoking an approved insurance suspends the active vehicle with INSURANCE_EXPIRED")
    func revocationSuspends() async throws {
        try await TestMarketplace.run { market in
            let world = try await VerificationWorld.make(market)
            let vehicle = try await world.vehicle()
            let approved = try await market.verifyVehicle(vehicle.id, owner: world.vendor.admin)
            _ = try await world.fleet.activateVehicle(.init(vehicleId: vehicle.id), options: world.vendor.admin.callOptions)
            let insurance = try #require(approved.first { $0.type == .insurance })
            _ = try await world.revoke(insurance.id, "policy cancelled by the insurer")
            #expect(try await world.fleet.getVehicle(.init(vehicleId: vehicle.id), options: world.vendor.admin.callOptions).vehicle?.status == .suspended)
            let reasons = try await world.pool.query("SELECT reason FROM fleet.suspension WHERE vehicle_id = \(vehicle.id)::uuid AND lifted_at IS NULL")
                .map { try $0.decode(String.self, "reason") }
            #expect(reasons == ["INSURANCE_EXPIRED"])
            // A valid document is not enough to lift it: only an approved renewal is.
            let now = Int64(Date().timeIntervalSince1970)
            _ = try await world.fleet.addVehicleDocument(.init(
                vehicleId: vehicle.id, type: .insurance, number: "POL-2", issuedAt: .init(seconds: now - 60), expiresAt: .init(seconds: now + 86_400 * 365)
            ), options: world.vendor.admin.callOptions)
            let suspension = try await world.fleet.listSuspensions(.init(vehicleId: vehicle.id), options: world.vendor.admin.callOptions).suspensions[0]
            let lift = { try await world.fleet.liftSuspension(.init(suspensionId: suspension.id), options: world.vendor.admin.callOptions) }
            await expectCode(.failedPrecondition, domainCode: "VERIFICATION_REQUIRED") { _ = try await lift() }
            _ = try await world.approve(try await world.submit(vehicle.id, .insurance, expiresAt: fromNow(86_400 * 365)).id)
            #expect(try await lift().vehicle?.status == .active)
        }
    }

    @Test("the transition table, on every (state, command) pair")
    func table() {
        let allowed: [VerificationStatus: [VerificationCommand: VerificationStatus]] = [
            .pending: [.approve: .approved, .reject: .rejected],
            .approved: [.expire: .expired, .revoke: .revoked],
        ]
        for status in VerificationStatus.allCases {
            for command in VerificationCommand.allCases {
                #expect(VerificationStateMachine.next(from: status, command) == allowed[status]?[command], "\(status) \(command)")
            }
        }
    }

    @Test("provider settings: what a server refuses to start with")
    func providerSettings() throws {
        func resolve(_ values: [String: String]) throws -> ServerSettings {
            // The secret from the environment: a secret flag is refused (Settings+Secrets.swift).
            try ServerSettings.resolve(
                flags: values.filter { $0.key != "verification-http-provider-secret" },
                environment: values["verification-http-provider-secret"].map { ["KAROKAR_VERIFICATION_HTTP_PROVIDER_SECRET": $0] } ?? [:],
                configFile: nil, readFile: { _ in [] }
            )
        }
        let ok = try resolve([
            "verification-http-provider-name": "insurer", "verification-http-provider-url": "https://insurer.example/check",
            "verification-http-provider-auth": "hmac", "verification-http-provider-secret": "k", "verification-http-provider-types": "INSURANCE",
        ])
        #expect(ok.verification.httpProviders.map(\.name) == ["insurer"] && ok.verification.httpProviders.first?.authentication == .hmac("k"))
        #expect(ok.verification.httpProviders.first?.types == ["INSURANCE"])
        #expect(try resolve([:]).verification.httpProviders.isEmpty && resolve([:]).fleet.activationRequiresVerification)
        let refused: [[String: String]] = [
            ["verification-http-provider-name": "insurer"],  // no URL
            ["verification-http-provider-name": "insurer", "verification-http-provider-url": "https://x.example"],  // bearer without a secret
            ["verification-http-provider-url": "ftp://x.example"],
            ["verification-http-provider-name": "Bad Name"],
            ["verification-http-provider-auth": "basic"],
            ["verification-http-provider-types": "INSURANCE,PASSPORT"],
            ["verification-http-provider-name": "slow", "verification-http-provider-url": "http://x.example", "verification-http-provider-auth": "none",
             "verification-http-provider-timeout-ms": "15000", "verification-http-provider-attempts": "3"],  // beyond the relay's lease
        ]
        for values in refused {
            #expect(throws: ServerSettings.Invalid.self, "\(values)") { _ = try resolve(values) }
        }
    }
}
