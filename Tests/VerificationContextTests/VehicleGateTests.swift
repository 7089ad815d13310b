import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import KaroKarTestSupport
import Testing

/// The gates on (DOMAIN.md sections 5 and 8), end to end over TCP: activation needs the three
/// approved vehicle verifications; an approved one that expires suspends the vehicle with the
/// matching reason, and search stops showing it.
@Suite("Verification gates Fleet: activation and expiry", .serialized)
struct VehicleGateTests {
    @Test("activation is refused without all three approved verifications, by default")
    func activationNeedsVerifications() async throws {
        try await TestMarketplace.run { market in
            let world = try await VerificationWorld.make(market)
            let vehicle = try await world.vehicle()
            let activate = { _ = try await world.fleet.activateVehicle(.init(vehicleId: vehicle.id), options: world.vendor.admin.callOptions) }
            await expectCode(.failedPrecondition, domainCode: "VERIFICATION_REQUIRED", activate)
            _ = try await world.approve(try await world.submit(vehicle.id, .vehicleRegistration).id)
            _ = try await world.approve(try await world.submit(vehicle.id, .insurance).id)
            let fitness = try await world.submit(vehicle.id, .fitnessCertificate)
            await expectCode(.failedPrecondition, domainCode: "VERIFICATION_REQUIRED", activate)  // two of three, one pending
            _ = try await world.reject(fitness.id)
            await expectCode(.failedPrecondition, domainCode: "VERIFICATION_REQUIRED", activate)  // rejected is not approved
            _ = try await world.approve(try await world.submit(vehicle.id, .fitnessCertificate, expiresAt: fromNow(-0 + 3600)).id)
            try await activate()
            #expect(try await world.fleet.getVehicle(.init(vehicleId: vehicle.id), options: world.vendor.admin.callOptions).vehicle?.status == .active)
        }
    }

    @Test("a vehicle document's verification counts for its vehicle")
    func documentVerifications() async throws {
        try await TestMarketplace.run { market in
            let world = try await VerificationWorld.make(market)
            let vehicle = try await world.vehicle()
            let now = Int64(Date().timeIntervalSince1970)
            let document = try await world.fleet.addVehicleDocument(.init(
                vehicleId: vehicle.id, type: .insurance, number: "POL-1", issuedAt: .init(seconds: now - 86_400), expiresAt: .init(seconds: now + 86_400 * 300)
            ), options: world.vendor.admin.callOptions).document!
            // The document must be of the kind the type names.
            await expectCode(.notFound, domainCode: "VERIFICATION_SUBJECT_NOT_FOUND") {
                _ = try await world.submit(document.id, .vehicleRegistration, subjectType: .vehicleDocument)
            }
            _ = try await world.approve(try await world.submit(document.id, .insurance, subjectType: .vehicleDocument).id)
            _ = try await world.approve(try await world.submit(vehicle.id, .vehicleRegistration).id)
            _ = try await world.approve(try await world.submit(vehicle.id, .fitnessCertificate).id)
            _ = try await world.fleet.activateVehicle(.init(vehicleId: vehicle.id), options: world.vendor.admin.callOptions)
        }
    }

    @Test("the setting turns the gate off for development")
    func gateOff() async throws {
        try await TestMarketplace.run({ $0.fleet.activationRequiresVerification = false }) { market in
            let world = try await VerificationWorld.make(market)
            let vehicle = try await world.vehicle()
            _ = try await world.fleet.activateVehicle(.init(vehicleId: vehicle.id), options: world.vendor.admin.callOptions)
        }
    }

    @Test("an expiring insurance verification suspends the vehicle (INSURANCE_EXPIRED) and search stops showing it")
    func expirySuspends() async throws {
        let clock = ManualClock(Instant(Date()))
        try await TestMarketplace.run(clock: clock, { $0.verification.expirySweepInterval = nil }) { market in
            let world = try await VerificationWorld.make(market)
            let corporate = try await market.onboard(.corporate)
            let vehicle = try await world.vehicle()
            _ = try await world.approve(try await world.submit(vehicle.id, .vehicleRegistration).id)
            _ = try await world.approve(try await world.submit(vehicle.id, .fitnessCertificate).id)
            let insurance = try await world.approve(try await world.submit(vehicle.id, .insurance, expiresAt: after(clock, 60)).id)
            _ = try await world.fleet.activateVehicle(.init(vehicleId: vehicle.id), options: world.vendor.admin.callOptions)
            let search = { try await world.fleet.searchAvailableVehicles(.init(period: period(1, 3)), options: corporate.admin.callOptions).vehicles.map(\.id) }
            #expect(try await search().contains(vehicle.id))
            // Nothing is due yet: a dry run in the future says what will expire, and changes nothing.
            let sweep = world.verifications
            #expect(try await sweep.runVerificationExpirySweep(.init(), options: world.platform.callOptions).expired.isEmpty)
            let preview = try await sweep.runVerificationExpirySweep(.init(asOf: after(clock, 120), dryRun: true), options: world.platform.callOptions)
            #expect(preview.expired.map(\.id) == [insurance.id])
            await expectCode(.invalidArgument, domainCode: "AS_OF_IN_FUTURE") {
                _ = try await sweep.runVerificationExpirySweep(.init(asOf: after(clock, 120)), options: world.platform.callOptions)
            }
            await expectDenied { _ = try await sweep.runVerificationExpirySweep(.init(), options: world.vendor.admin.callOptions) }
            clock.advance(by: .seconds(300))
            let expired = try await sweep.runVerificationExpirySweep(.init(), options: world.platform.callOptions).expired
            #expect(expired.map(\.id) == [insurance.id] && expired.first?.status == .expired)
            #expect(try await sweep.runVerificationExpirySweep(.init(), options: world.platform.callOptions).expired.isEmpty)  // once
            let detail = try await world.get(insurance.id)
            #expect(detail.history.map(\.status) == [.pending, .approved, .expired] && detail.history.last?.decidedBy == "system")
            let suspended = try await world.fleet.getVehicle(.init(vehicleId: vehicle.id), options: world.vendor.admin.callOptions).vehicle!
            #expect(suspended.status == .suspended)
            let reasons = try await world.pool.query("SELECT reason FROM fleet.suspension WHERE vehicle_id = \(vehicle.id)::uuid AND lifted_at IS NULL")
                .map { try $0.decode(String.self, "reason") }
            #expect(reasons == ["INSURANCE_EXPIRED"])
            #expect(try await !search().contains(vehicle.id))
            #expect(try await world.events(of: insurance.id).last == "verification.expired")
        }
    }

    @Test("a renewal approved before the old approval expires keeps the vehicle active")
    func renewalCovers() async throws {
        let clock = ManualClock(Instant(Date()))
        try await TestMarketplace.run(clock: clock, { $0.verification.expirySweepInterval = nil }) { market in
            let world = try await VerificationWorld.make(market)
            let vehicle = try await world.vehicle()
            _ = try await world.approve(try await world.submit(vehicle.id, .vehicleRegistration).id)
            _ = try await world.approve(try await world.submit(vehicle.id, .fitnessCertificate).id)
            _ = try await world.approve(try await world.submit(vehicle.id, .insurance, expiresAt: after(clock, 60)).id)
            _ = try await world.fleet.activateVehicle(.init(vehicleId: vehicle.id), options: world.vendor.admin.callOptions)
            _ = try await world.approve(try await world.submit(vehicle.id, .insurance, expiresAt: after(clock, 86_400 * 365)).id)
            clock.advance(by: .seconds(300))
            #expect(try await world.verifications.runVerificationExpirySweep(.init(), options: world.platform.callOptions).expired.count == 1)
            #expect(try await world.fleet.getVehicle(.init(vehicleId: vehicle.id), options: world.vendor.admin.callOptions).vehicle?.status == .active)
        }
    }
}
