import Foundation
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// Onboarding decisions over TCP: Administration's append-only history, Identity's organization
/// status moved in the same transaction, the events, and what a decision leaves the members.
@Suite("Administration: approvals", .serialized)
struct ApprovalTests {
    static func version(_ value: Int64) -> CommonV1.Int64Value { CommonV1.Int64Value(value: value) }

    static func identityStatus(_ market: TestMarketplace, _ id: String) async throws -> (String, Int64) {
        let row = try await market.pool.query("SELECT status, version FROM identity.organizations WHERE id = \(id)::uuid").single()
        return (try row.decode(String.self, "status"), try row.decode(Int64.self, "version"))
    }

    @Test func anOrganizationGoesThroughApprovalSuspensionAndReinstatement() async throws {
        try await TestMarketplace.run { market in
            let registered = try await market.register(.vendor, name: "Lifecycle Leasing")
            let id = registered.organization!.id
            let platform = try await market.platformAdmin()
            let admin = market.administration
            let approved = try await admin.approveOrganization(
                AdministrationV1.ApproveOrganizationRequest(organizationId: id, notes: CommonV1.StringValue(value: "documents fine"), expectedVersion: Self.version(1)),
                options: platform.callOptions
            )
            #expect(approved.organization?.status == .active && approved.organization?.version == 2)
            #expect(approved.approval?.reviewedBy?.value == platform.userID)
            #expect(approved.approval?.reviewerOrganizationId?.value == platform.organizationID)
            #expect(try await Self.identityStatus(market, id) == ("ACTIVE", 2))

            let member = try await market.login(registered.adminUser!.email)
            #expect(try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: member.callOptions).permissions.contains("vehicle.create"))
            let suspended = try await admin.suspendOrganization(
                AdministrationV1.SuspendOrganizationRequest(organizationId: id, notes: "insurance lapsed", expectedVersion: Self.version(2)),
                options: platform.callOptions
            )
            #expect(suspended.approval?.status == .revoked)
            #expect(try await Self.identityStatus(market, id) == ("SUSPENDED", 3))
            let whileSuspended = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: member.callOptions)
            #expect(whileSuspended.organization?.status == .suspended, "the decision reaches existing tokens at once")
            #expect(!whileSuspended.permissions.contains("vehicle.create") && whileSuspended.permissions.contains("booking.read"))

            _ = try await admin.reinstateOrganization(AdministrationV1.ReinstateOrganizationRequest(organizationId: id), options: platform.callOptions)
            #expect(try await Self.identityStatus(market, id) == ("ACTIVE", 4))
            let history = try await admin.getApprovalHistory(AdministrationV1.GetApprovalHistoryRequest(organizationId: id), options: platform.callOptions)
            #expect(history.approvals.map(\.status) == [.pending, .approved, .revoked, .reinstated])
            #expect(history.organization?.version == 4)
            let paged = try await admin.getApprovalHistory(
                AdministrationV1.GetApprovalHistoryRequest(organizationId: id, page: CommonV1.PageRequest(pageSize: 3)), options: platform.callOptions
            )
            let rest = try await admin.getApprovalHistory(AdministrationV1.GetApprovalHistoryRequest(
                organizationId: id, page: CommonV1.PageRequest(pageSize: 3, pageToken: paged.page!.nextPageToken)
            ), options: platform.callOptions)
            #expect((paged.approvals + rest.approvals).map(\.id) == history.approvals.map(\.id))
            let events = try await market.pool.query("""
                SELECT event_type FROM karokar_events.outbox WHERE aggregate_type = 'organization' AND aggregate_id = \(id) ORDER BY seq
                """).map { try $0.decode(String.self, "event_type") }
            #expect(events == ["organization.registered", "organization.approved", "organization.suspended", "organization.reinstated"])
        }
    }

    @Test func decisionsOutOfOrderOrOnStaleVersionsAreRefusedAndChangeNothing() async throws {
        try await TestMarketplace.run { market in
            let pending = try await market.register(.corporate).organization!.id
            let approved = try await market.onboard(.vendor).id
            let platform = try await market.platformAdmin()
            let admin = market.administration
            let options = platform.callOptions
            let before = try await TableSnapshot.take(market.pool)
            await expectCode(.failedPrecondition, domainCode: "INVALID_APPROVAL_TRANSITION") {
                _ = try await admin.suspendOrganization(AdministrationV1.SuspendOrganizationRequest(organizationId: pending, notes: "x"), options: options)
            }
            await expectCode(.failedPrecondition, domainCode: "INVALID_APPROVAL_TRANSITION") {
                _ = try await admin.approveOrganization(AdministrationV1.ApproveOrganizationRequest(organizationId: approved), options: options)
            }
            await expectCode(.failedPrecondition, domainCode: "INVALID_APPROVAL_TRANSITION") {
                _ = try await admin.rejectOrganization(AdministrationV1.RejectOrganizationRequest(organizationId: approved, notes: "late"), options: options)
            }
            await expectCode(.failedPrecondition, domainCode: "INVALID_APPROVAL_TRANSITION") {
                _ = try await admin.reinstateOrganization(AdministrationV1.ReinstateOrganizationRequest(organizationId: approved), options: options)
            }
            await expectCode(.aborted, domainCode: "STALE_VERSION") {
                _ = try await admin.approveOrganization(
                    AdministrationV1.ApproveOrganizationRequest(organizationId: pending, expectedVersion: Self.version(2)), options: options
                )
            }
            await expectCode(.invalidArgument) {
                _ = try await admin.rejectOrganization(AdministrationV1.RejectOrganizationRequest(organizationId: pending, notes: " "), options: options)
            }
            await expectCode(.notFound) {
                _ = try await admin.approveOrganization(AdministrationV1.ApproveOrganizationRequest(organizationId: UUID().uuidString.lowercased()), options: options)
            }
            await expectCode(.failedPrecondition, domainCode: "PLATFORM_ORGANIZATION") {
                _ = try await admin.suspendOrganization(AdministrationV1.SuspendOrganizationRequest(organizationId: platform.organizationID, notes: "x"), options: options)
            }
            #expect(try await TableSnapshot.take(market.pool) == before)

            _ = try await admin.rejectOrganization(AdministrationV1.RejectOrganizationRequest(organizationId: pending, notes: "no licence"), options: options)
            await expectCode(.failedPrecondition, domainCode: "INVALID_APPROVAL_TRANSITION") {
                _ = try await admin.approveOrganization(AdministrationV1.ApproveOrganizationRequest(organizationId: pending), options: options)
            }
            #expect(try await Self.identityStatus(market, pending).0 == "REJECTED")
        }
    }

    @Test func aRejectedOrganizationsMembersCanOnlyReadTheDecision() async throws {
        try await TestMarketplace.run { market in
            let registered = try await market.register(.vendor)
            let platform = try await market.platformAdmin()
            _ = try await market.administration.rejectOrganization(
                AdministrationV1.RejectOrganizationRequest(organizationId: registered.organization!.id, notes: "incomplete"), options: platform.callOptions
            )
            let member = try await market.login(registered.adminUser!.email)
            let me = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: member.callOptions)
            #expect(me.organization?.status == .rejected)
            #expect(me.permissions == ["notification.read", "organization.read"])
            await expectDenied { _ = try await market.identity.listMembers(IdentityV1.ListMembersRequest(), options: member.callOptions) }
        }
    }

    @Test func theApprovalHistoryAndModerationLogAreAppendOnly() async throws {
        try await TestMarketplace.run { market in
            _ = try await market.register(.vendor)
            for statement: SQL in [
                "UPDATE administration.approvals SET notes = 'rewritten'", "DELETE FROM administration.approvals",
                "TRUNCATE administration.approvals", "TRUNCATE administration.moderation_actions",
            ] {
                await #expect(throws: PostgresError.self) { try await market.pool.query(statement) }
            }
            let count = try await market.pool.query("SELECT count(*) AS n FROM administration.approvals").single()
            #expect(try count.decode(Int.self, "n") == 1)
        }
    }

    @Test func aRetriedApprovalWithTheSameKeyDecidesOnce() async throws {
        try await TestMarketplace.run { market in
            let id = try await market.register(.vendor).organization!.id
            let platform = try await market.platformAdmin()
            let request = AdministrationV1.ApproveOrganizationRequest(organizationId: id)
            let first = try await market.administration.approveOrganization(request, options: platform.options(idempotencyKey: "approve-1"))
            let second = try await market.administration.approveOrganization(request, options: platform.options(idempotencyKey: "approve-1"))
            #expect(first == second)
            let rows = try await market.pool.query("SELECT count(*) AS n FROM administration.approvals WHERE organization_id = \(id)::uuid").single()
            #expect(try rows.decode(Int.self, "n") == 2)
        }
    }

    @Test func theDashboardCountsOrganizationsByTypeAndStatus() async throws {
        try await TestMarketplace.run { market in
            _ = try await market.register(.vendor)
            _ = try await market.register(.corporate)
            _ = try await market.onboard(.vendor)
            let platform = try await market.platformAdmin()
            let counts = try await market.administration.getDashboardCounts(AdministrationV1.GetDashboardCountsRequest(), options: platform.callOptions).counts!
            #expect(counts.pendingApprovals == 2)
            let table = Dictionary(uniqueKeysWithValues: counts.organizations.map { ("\($0.organizationType)/\($0.status)", $0.count) })
            #expect(table == ["platform/active": 1, "vendor/active": 1, "vendor/pending": 1, "corporate/pending": 1])
            #expect(counts.vehicles.isEmpty && counts.bookings.isEmpty, "no fleet or booking context is served yet")
            let queue = try await market.administration.listPendingApprovals(
                AdministrationV1.ListPendingApprovalsRequest(organizationType: .corporate), options: platform.callOptions
            )
            #expect(queue.pendingApprovals.map { $0.organization?.organizationType } == [.corporate])
        }
    }
}
