import Foundation
import KaroKarMessages
import KaroKarRPC
import KaroKarServer
import KaroKarServices
import KaroKarTestSupport
import Testing

/// The AuditService of the real server: records with the right actor and tenant, tenants confined
/// to their own records however they ask, the chain and the completeness check for the platform.
@Suite("Audit over RPC: actors, tenancy, paging, the chain, completeness")
struct AuditServiceTests {
    static let everything = AuditV1.CheckCompletenessRequest(
        recordedAfter: CommonV1.Timestamp(seconds: 0), recordedBefore: CommonV1.Timestamp(seconds: 4_000_000_000)
    )

    /// Waits until every event of the outbox has its audit record.
    static func settled(_ audit: AuditV1.AuditService.Client, _ platform: TestSession) async throws -> Bool {
        let started = ContinuousClock.now
        while ContinuousClock.now - started < .seconds(60) {
            let report = try await audit.checkCompleteness(everything, options: platform.callOptions)
            if report.complete, report.eventsInOutbox > 0 { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    static func refused(_ code: RPCCode, _ domainCode: String, _ call: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async {
        do {
            try await call()
            Issue.record("expected \(code) / \(domainCode)", sourceLocation: sourceLocation)
        } catch let error as RPCError {
            #expect(error.code == code && error.domainCode == domainCode, "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func recordsNameTheActorAndTenantAndTenantsReadOnlyTheirOwn() async throws {
        try await TestMarketplace.run { market in
            let audit = AuditV1.AuditService.Client(market.client)
            let platform = try await market.platformAdmin()
            let a = try await market.onboard(.vendor)
            let b = try await market.onboard(.vendor)
            // A business call of A's administrator, traced by its request id.
            var options = a.admin.callOptions
            options.metadata["request-id"] = "audit-trace-1"
            let created = try await market.identity.createUser(IdentityV1.CreateUserRequest(
                firstName: "Meera", lastName: "Iyer", email: "meera-\(UUID().uuidString.prefix(6).lowercased())@example.com",
                password: TestMarketplace.password, roleId: try await market.roleID("VENDOR_STAFF", type: .vendor)
            ), options: options)
            #expect(try await Self.settled(audit, platform))

            var traced = AuditV1.QueryAuditRecordsRequest()
            traced.correlationId = CommonV1.StringValue(value: "audit-trace-1")
            traced.oldestFirst = true
            let records = try await audit.queryAuditRecords(traced, options: platform.callOptions).records
            #expect(records.map(\.eventType).contains("user.created"), "\(records.map(\.eventType))")
            for record in records {
                #expect(record.actorType == .user && record.actorId?.value == a.admin.userID, "the actor: \(record.eventType)")
                #expect(record.organizationId == a.id, "the tenant: \(record.eventType)")
            }
            let outboxEvents = try await market.pool.query("""
                SELECT count(*)::int AS n FROM karokar_events.outbox AS o JOIN audit.records AS r USING (event_id)
                WHERE r.correlation_id = 'audit-trace-1'
                """).single().decode(Int.self, "n")
            #expect(outboxEvents == records.count, "one record per event")
            let userRecord = try #require(records.first { $0.eventType == "user.created" })
            #expect(userRecord.entityType == "user" && userRecord.entityId == created.user?.id)

            // A reads it; B, as an attacker would try, cannot.
            #expect(try await audit.getAuditRecord(.init(key: .auditRecordId(userRecord.id)), options: a.admin.callOptions).record?.id == userRecord.id)
            await Self.refused(.notFound, "AUDIT_RECORD_NOT_FOUND") {
                _ = try await audit.getAuditRecord(.init(key: .auditRecordId(userRecord.id)), options: b.admin.callOptions)
            }
            await Self.refused(.notFound, "AUDIT_RECORD_NOT_FOUND") {
                _ = try await audit.getAuditRecord(.init(key: .eventId(userRecord.eventId)), options: b.admin.callOptions)
            }
            var naming = AuditV1.QueryAuditRecordsRequest()
            naming.organizationId = a.id
            #expect(try await audit.queryAuditRecords(naming, options: b.admin.callOptions).records.isEmpty, "naming another tenant finds nothing")
            #expect(try await audit.queryAuditRecords(traced, options: b.admin.callOptions).records.isEmpty, "A's correlation id finds nothing")
            var entity = AuditV1.QueryAuditRecordsRequest()
            entity.entityType = CommonV1.StringValue(value: "user")
            entity.entityId = CommonV1.StringValue(value: userRecord.entityId)
            #expect(try await audit.queryAuditRecords(entity, options: b.admin.callOptions).records.isEmpty)
            #expect(try await audit.queryAuditRecords(entity, options: a.admin.callOptions).records.count == 1)
            let own = try await audit.queryAuditRecords(AuditV1.QueryAuditRecordsRequest(), options: b.admin.callOptions).records
            #expect(!own.isEmpty && own.allSatisfy { $0.organizationId == b.id }, "B sees its own records only")
            // A page token of A's list carries no authority.
            var firstPage = AuditV1.QueryAuditRecordsRequest()
            firstPage.page = CommonV1.PageRequest(pageSize: 1)
            let token = try await audit.queryAuditRecords(firstPage, options: a.admin.callOptions).page?.nextPageToken ?? ""
            #expect(!token.isEmpty)
            var replayed = AuditV1.QueryAuditRecordsRequest()
            replayed.page = CommonV1.PageRequest(pageSize: 50, pageToken: token)
            #expect(try await audit.queryAuditRecords(replayed, options: b.admin.callOptions).records.allSatisfy { $0.organizationId == b.id })
            // The chain and completeness span every tenant: the platform's.
            await Self.refused(.permissionDenied, "PERMISSION_DENIED") {
                _ = try await audit.verifyChain(AuditV1.VerifyChainRequest(), options: b.admin.callOptions)
            }
            await Self.refused(.permissionDenied, "PERMISSION_DENIED") {
                _ = try await audit.checkCompleteness(Self.everything, options: b.admin.callOptions)
            }
            // Permission before validation: a malformed call B may not make answers PERMISSION_DENIED,
            // not INVALID_ARGUMENT (B learns nothing from the validation); the platform's is invalid.
            let backwards = AuditV1.CheckCompletenessRequest(recordedAfter: CommonV1.Timestamp(seconds: 10), recordedBefore: CommonV1.Timestamp(seconds: 5))
            var backwardsChain = AuditV1.VerifyChainRequest()
            backwardsChain.fromSequence = CommonV1.Int64Value(value: 5)
            backwardsChain.toSequence = CommonV1.Int64Value(value: 1)
            await Self.refused(.permissionDenied, "PERMISSION_DENIED") {
                _ = try await audit.checkCompleteness(backwards, options: b.admin.callOptions)
            }
            await Self.refused(.permissionDenied, "PERMISSION_DENIED") {
                _ = try await audit.verifyChain(backwardsChain, options: b.admin.callOptions)
            }
            await expectCode(.invalidArgument) { _ = try await audit.checkCompleteness(backwards, options: platform.callOptions) }
            await expectCode(.invalidArgument) { _ = try await audit.verifyChain(backwardsChain, options: platform.callOptions) }
            // Staff without audit.read.
            let staff = try await market.member(of: a, role: "VENDOR_STAFF")
            await Self.refused(.permissionDenied, "PERMISSION_DENIED") {
                _ = try await audit.queryAuditRecords(AuditV1.QueryAuditRecordsRequest(), options: staff.callOptions)
            }
            #expect(try await Self.settled(audit, platform))
            let chain = try await audit.verifyChain(AuditV1.VerifyChainRequest(), options: platform.callOptions).verification
            #expect(chain?.intact == true && (chain?.recordsChecked ?? 0) > 0, "\(String(describing: chain))")
        }
    }

    @Test func platformAdministratorsPageThroughEverythingInOrder() async throws {
        try await TestMarketplace.run { market in
            let audit = AuditV1.AuditService.Client(market.client)
            let platform = try await market.platformAdmin()
            _ = try await market.onboard(.vendor)
            _ = try await market.onboard(.corporate)
            #expect(try await Self.settled(audit, platform))
            let total = try await market.pool.query("SELECT count(*)::int AS n FROM audit.records").single().decode(Int.self, "n")
            var seen: [Int64] = []
            var request = AuditV1.QueryAuditRecordsRequest()
            request.oldestFirst = true
            request.page = CommonV1.PageRequest(pageSize: 2)
            while true {
                let page = try await audit.queryAuditRecords(request, options: platform.callOptions)
                seen += page.records.map(\.sequence)
                guard let next = page.page?.nextPageToken, !next.isEmpty else { break }
                request.page = CommonV1.PageRequest(pageSize: 2, pageToken: next)
            }
            #expect(seen.count == total && Set(seen).count == total, "every record once")
            var byType = AuditV1.QueryAuditRecordsRequest()
            byType.eventTypes = ["organization.*"]
            let organizations = try await audit.queryAuditRecords(byType, options: platform.callOptions).records
            #expect(!organizations.isEmpty && organizations.allSatisfy { $0.eventType.hasPrefix("organization.") })
            var malformed = AuditV1.QueryAuditRecordsRequest()
            malformed.eventTypes = ["organization.%"]
            await #expect(throws: RPCError.self) { _ = try await audit.queryAuditRecords(malformed, options: platform.callOptions) }
            do {
                _ = try await audit.queryAuditRecords(malformed, options: platform.callOptions)
            } catch let error as RPCError {
                #expect(error.code == .invalidArgument && error.details?.fieldViolations.first?.field == "eventTypes[0]")
            }
        }
    }
}
