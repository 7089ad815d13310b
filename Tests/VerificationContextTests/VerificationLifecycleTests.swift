import Foundation
import KaroKarMessages
import KaroKarRPC
import KaroKarTestSupport
import Testing

/// Every transition and every forbidden one, through the RPCs, with the history, the reviewer, the
/// expiry and the events they leave.
@Suite("Verification: transitions through the RPCs", .serialized)
struct VerificationLifecycleTests {
    @Test("submit, approve, revoke: history, reviewer, expiry, events")
    func approveThenRevoke() async throws {
        try await TestMarketplace.run { market in
            let world = try await VerificationWorld.make(market)
            let vehicle = try await world.vehicle()
            let expiry = fromNow(86_400 * 30)
            let submitted = try await world.submit(vehicle.id, .insurance, expiresAt: expiry)
            #expect(submitted.status == .pending && submitted.method == .manual && submitted.version == 1)
            #expect(submitted.organizationId == world.vendor.id && submitted.submittedBy == world.vendor.admin.userID)
            #expect(submitted.reviewedBy == nil && submitted.reviewedAt == nil && submitted.expiresAt == expiry)
            let later = fromNow(86_400 * 60)
            let approved = try await world.approve(submitted.id, expiresAt: later, version: 1)
            #expect(approved.status == .approved && approved.version == 2 && approved.expiresAt == later)
            #expect(approved.reviewedBy?.value == world.platform.userID && approved.reviewedAt != nil && approved.reviewNotes?.value == "checked")
            let revoked = try await world.revoke(submitted.id)
            #expect(revoked.status == .revoked && revoked.reviewNotes?.value == "policy cancelled" && revoked.reviewedBy?.value == world.platform.userID)
            let detail = try await world.get(submitted.id, as: world.vendor.admin)
            #expect(detail.history.map(\.status) == [.pending, .approved, .revoked])
            #expect(detail.history.map(\.decidedBy) == [world.vendor.admin.userID, world.platform.userID, world.platform.userID])
            #expect(detail.history.map(\.notes) == ["policy attached", "checked", "policy cancelled"])
            #expect(detail.history[1].expiresAt == later)
            #expect(try await world.events(of: submitted.id) == ["verification.submitted", "verification.approved", "verification.revoked"])
        }
    }

    @Test("reject with a reason; every forbidden transition is refused and changes nothing")
    func forbiddenTransitions() async throws {
        try await TestMarketplace.run { market in
            let world = try await VerificationWorld.make(market)
            let vehicle = try await world.vehicle()
            let rejected = try await world.reject(try await world.submit(vehicle.id, .vehicleRegistration).id)
            #expect(rejected.status == .rejected && rejected.reviewNotes?.value == "illegible")
            let pending = try await world.submit(vehicle.id, .fitnessCertificate)
            let approved = try await world.approve(try await world.submit(vehicle.id, .insurance).id)
            let revoked = try await world.revoke(try await world.approve(try await world.submit(vehicle.id, .vehicleRegistration).id).id)
            let invalid = "INVALID_VERIFICATION_TRANSITION"
            let before = try await world.count("SELECT count(*)::int FROM verification.decisions")
            // PENDING cannot be revoked; APPROVED cannot be approved or rejected; the terminal ones nothing.
            await expectCode(.failedPrecondition, domainCode: invalid) { _ = try await world.revoke(pending.id) }
            await expectCode(.failedPrecondition, domainCode: invalid) { _ = try await world.approve(approved.id) }
            await expectCode(.failedPrecondition, domainCode: invalid) { _ = try await world.reject(approved.id) }
            for done in [rejected, revoked] {
                await expectCode(.failedPrecondition, domainCode: invalid) { _ = try await world.approve(done.id) }
                await expectCode(.failedPrecondition, domainCode: invalid) { _ = try await world.reject(done.id) }
                await expectCode(.failedPrecondition, domainCode: invalid) { _ = try await world.revoke(done.id) }
            }
            // A stale version, an expiry in the past.
            await expectCode(.aborted, domainCode: "STALE_VERSION") { _ = try await world.approve(pending.id, version: 7) }
            await expectCode(.failedPrecondition, domainCode: "VERIFICATION_EXPIRY_PASSED") {
                _ = try await world.approve(pending.id, expiresAt: fromNow(-60))
            }
            #expect(try await world.count("SELECT count(*)::int FROM verification.decisions") == before)
            #expect(try await world.get(pending.id).status == .pending)
            // The database refuses what the state machine refuses, whoever writes.
            await #expect(throws: (any Error).self) {
                try await world.pool.query("UPDATE verification.verifications SET status = 'APPROVED', version = version + 1 WHERE id = \(revoked.id)::uuid")
            }
            await #expect(throws: (any Error).self) { try await world.pool.query("DELETE FROM verification.decisions") }
            await #expect(throws: (any Error).self) { try await world.pool.query("DELETE FROM verification.verifications") }
        }
    }

    @Test("one PENDING per subject and type, also when submitted at once; bad input is refused before anything is written")
    func submissions() async throws {
        try await TestMarketplace.run { market in
            let world = try await VerificationWorld.make(market)
            let vehicle = try await world.vehicle()
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<6 { group.addTask { (try? await world.submit(vehicle.id, .insurance)) != nil } }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 1)
            await expectCode(.alreadyExists, domainCode: "VERIFICATION_ALREADY_PENDING") { _ = try await world.submit(vehicle.id, .insurance) }
            // An idempotent retry gets the first answer.
            let first = try await world.submit(vehicle.id, .fitnessCertificate, key: "k-1")
            #expect(try await world.submit(vehicle.id, .fitnessCertificate, key: "k-1").id == first.id)
            let rows = try await world.count("SELECT count(*)::int FROM verification.verifications")
            await expectCode(.invalidArgument) { _ = try await world.submit(vehicle.id, .drivingLicense) }  // not about a vehicle
            await expectCode(.invalidArgument) { _ = try await world.submit("not-a-uuid", .insurance) }
            await expectCode(.invalidArgument) { _ = try await world.submit(vehicle.id, .unspecified) }
            await expectCode(.invalidArgument) { _ = try await world.submit(vehicle.id, .insurance, subjectType: .unspecified) }
            await expectCode(.invalidArgument) { _ = try await world.submit(vehicle.id, .vehicleRegistration, method: .external, provider: "nobody") }
            await expectCode(.invalidArgument) { _ = try await world.submit(vehicle.id, .vehicleRegistration, provider: "nobody") }
            await expectCode(.failedPrecondition, domainCode: "VERIFICATION_EXPIRY_PASSED") {
                _ = try await world.submit(vehicle.id, .vehicleRegistration, expiresAt: fromNow(-1))
            }
            #expect(try await world.count("SELECT count(*)::int FROM verification.verifications") == rows)
            // The organization itself and one of its members are subjects too.
            let business = try await world.submit(world.vendor.id, .businessRegistration, subjectType: .organization)
            let staff = try await market.member(of: world.vendor, role: "VENDOR_STAFF")
            let identity = try await world.submit(staff.userID, .identity, subjectType: .user)
            #expect(business.subjectType == .organization && identity.subjectType == .user)
            // Reviewers only: a tenant cannot approve, even its own.
            await expectDenied { _ = try await world.verifications.approveVerification(.init(verificationId: business.id), options: world.vendor.admin.callOptions) }
        }
    }

    @Test("lists: keyset pages, newest first, filters; the reviewers' queue")
    func lists() async throws {
        try await TestMarketplace.run { market in
            let world = try await VerificationWorld.make(market)
            var ids: [String] = []
            for _ in 0..<3 {
                let vehicle = try await world.vehicle()
                for type in [VerificationV1.VerificationType.vehicleRegistration, .insurance] { ids.append(try await world.submit(vehicle.id, type).id) }
            }
            _ = try await world.approve(ids[0])
            var seen: [String] = []
            var token = ""
            repeat {
                let page = try await world.verifications.listVerifications(
                    .init(page: .init(pageSize: 4, pageToken: token)), options: world.vendor.admin.callOptions
                )
                #expect(page.verifications.count <= 4)
                seen += page.verifications.map(\.id)
                token = page.page?.nextPageToken ?? ""
            } while !token.isEmpty
            #expect(seen == ids.reversed())
            let queue = try await world.verifications.listVerifications(.init(statuses: [.pending]), options: world.platform.callOptions)
            #expect(Set(queue.verifications.map(\.id)) == Set(ids.dropFirst()))
            let insurance = try await world.verifications.listVerifications(.init(type: .insurance), options: world.vendor.admin.callOptions)
            #expect(insurance.verifications.count == 3 && insurance.verifications.allSatisfy { $0.type == .insurance && $0.history.isEmpty })
            await expectCode(.invalidArgument) {
                _ = try await world.verifications.listVerifications(.init(page: .init(pageToken: "forged")), options: world.vendor.admin.callOptions)
            }
        }
    }
}
