import Foundation
import KaroKarMessages
import KaroKarRPC
import KaroKarTestSupport
import Testing

/// Another tenant's ids in every Verification RPC, as an attacker would try them: NOT_FOUND or
/// nothing listed (existence does not leak), PERMISSION_DENIED for reviews, and nothing changes.
@Suite("Verification tenancy: cross-tenant attempts reveal and change nothing", .serialized)
struct VerificationTenancyTests {
    @Test("a vendor and a corporate aim every verb at another vendor's subjects and verifications")
    func crossTenant() async throws {
        try await TestMarketplace.run { market in
            let world = try await VerificationWorld.make(market)
            let vehicle = try await world.vehicle()
            let now = Int64(Date().timeIntervalSince1970)
            let document = try await world.fleet.addVehicleDocument(.init(
                vehicleId: vehicle.id, type: .insurance, number: "POL-9", issuedAt: .init(seconds: now - 10), expiresAt: .init(seconds: now + 86_400 * 90)
            ), options: world.vendor.admin.callOptions).document!
            let staff = try await market.member(of: world.vendor, role: "VENDOR_STAFF")
            let victim = try await world.submit(vehicle.id, .insurance)
            let approved = try await world.approve(try await world.submit(vehicle.id, .vehicleRegistration).id)
            let rival = try await market.onboard(.vendor)
            let corporate = try await market.onboard(.corporate)
            let before = try await world.count("SELECT count(*)::int FROM verification.decisions")
            for attacker in [rival.admin, corporate.admin, try await market.member(of: corporate, role: "FLEET_MANAGER")] {
                let options = attacker.callOptions
                let missing = "VERIFICATION_NOT_FOUND", subject = "VERIFICATION_SUBJECT_NOT_FOUND"
                await expectCode(.notFound, domainCode: missing) { _ = try await world.get(victim.id, as: attacker) }
                await expectCode(.notFound, domainCode: missing) { _ = try await world.get(approved.id, as: attacker) }
                // Submitting about the victim's vehicle, document, organization or member.
                await expectCode(.notFound, domainCode: subject) { _ = try await world.submit(vehicle.id, .fitnessCertificate, as: attacker) }
                await expectCode(.notFound, domainCode: subject) {
                    _ = try await world.submit(document.id, .insurance, subjectType: .vehicleDocument, as: attacker)
                }
                await expectCode(.notFound, domainCode: subject) {
                    _ = try await world.submit(world.vendor.id, .businessRegistration, subjectType: .organization, as: attacker)
                }
                await expectCode(.notFound, domainCode: subject) { _ = try await world.submit(staff.userID, .identity, subjectType: .user, as: attacker) }
                await expectCode(.notFound, domainCode: subject) { _ = try await world.submit(UUID().uuidString.lowercased(), .insurance, as: attacker) }
                // Lists: naming the victim's organization or subject shows nothing.
                let verifications = world.verifications
                #expect(try await verifications.listVerifications(.init(organizationId: world.vendor.id), options: options).verifications.isEmpty)
                #expect(try await verifications.listVerifications(.init(subjectId: .init(value: vehicle.id)), options: options).verifications.isEmpty)
                #expect(try await verifications.listVerifications(.init(), options: options).verifications.allSatisfy { $0.organizationId == attacker.organizationID })
                // Reviews are the platform's.
                await expectDenied { _ = try await verifications.approveVerification(.init(verificationId: victim.id), options: options) }
                await expectDenied { _ = try await verifications.rejectVerification(.init(verificationId: victim.id, reason: "x"), options: options) }
                await expectDenied { _ = try await verifications.revokeVerification(.init(verificationId: approved.id, reason: "x"), options: options) }
                await expectDenied { _ = try await verifications.runVerificationExpirySweep(.init(), options: options) }
            }
            // An employee reads no verification at all.
            let employee = try await market.member(of: corporate, role: "EMPLOYEE")
            await expectDenied { _ = try await world.verifications.listVerifications(.init(), options: employee.callOptions) }
            #expect(try await world.count("SELECT count(*)::int FROM verification.decisions") == before)
            #expect(try await world.get(victim.id).status == .pending)
            #expect(try await world.get(approved.id).status == .approved)
            // The victim's own staff reads them; the platform reads everyone's.
            #expect(try await world.get(victim.id, as: staff).id == victim.id)
            let all = try await world.verifications.listVerifications(.init(organizationId: world.vendor.id), options: world.platform.callOptions)
            #expect(Set(all.verifications.map(\.id)) == [victim.id, approved.id])
        }
    }
}
