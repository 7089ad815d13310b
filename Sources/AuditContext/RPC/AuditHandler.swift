import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarProto
import KaroKarRPC
import KaroKarServices

/// `karokar.audit.v1.AuditService`: validates each request, parses it once into domain values,
/// calls the ``Audit`` use case, maps the result to the response. Tenancy is the use cases'.
struct AuditHandler: AuditV1.AuditService.Handler {
    let audit: Audit

    var pages: PageTokens { audit.environment.pages }

    func queryAuditRecords(_ request: AuditV1.QueryAuditRecordsRequest, context: ServerCallContext) async throws -> AuditV1.QueryAuditRecordsResponse {
        var check = Validation()
        var filter = AuditFilter()
        filter.organizationID = check.optionalUUID(request.organizationId, "organizationId")
        if let after = request.occurredAfter { filter.occurredAfter = check.instant(after, "occurredAfter") }
        if let before = request.occurredBefore { filter.occurredBefore = check.instant(before, "occurredBefore") }
        filter.entityType = request.entityType.map { check.text($0.value, "entityType.value", maximumLength: 100) }
        filter.entityID = request.entityId.map { check.text($0.value, "entityId.value", maximumLength: 200) }
        filter.actorID = request.actorId.map { check.text($0.value, "actorId.value", maximumLength: 200) }
        filter.correlationID = request.correlationId.map { check.text($0.value, "correlationId.value", maximumLength: 200) }
        switch request.actorType {
        case .unspecified: filter.actorType = nil
        case .user: filter.actorType = .user
        case .serviceAccount: filter.actorType = .serviceAccount
        case .system: filter.actorType = .system
        case .unrecognized: check.add("actorType", "UNKNOWN_VALUE", "actorType must be one of the documented values")
        }
        if request.eventTypes.count > 50 { check.add("eventTypes", "OUT_OF_RANGE", "at most 50 event types") }
        for (index, pattern) in request.eventTypes.enumerated() where !Self.isEventPattern(pattern) {
            check.add("eventTypes[\(index)]", "MALFORMED", "an event name (booking.approved) or an aggregate's wildcard (booking.*)")
        }
        filter.eventTypes = request.eventTypes
        filter.oldestFirst = request.oldestFirst
        if let after = filter.occurredAfter, let before = filter.occurredBefore, before < after {
            check.add("occurredBefore", "OUT_OF_RANGE", "occurredBefore must not precede occurredAfter")
        }
        try check.finish()
        let page = try Page<AuditKey>(request.page, list: "audit.records", tokens: pages)
        let rows = try await audit.records(matching: filter, page: page, Invocation(context, fingerprint: request))
        let (kept, next) = page.cut(rows) { AuditKey($0.occurredAt, $0.sequence) }
        return AuditV1.QueryAuditRecordsResponse(records: kept.map(\.message), page: next)
    }

    /// `a.b`, `a.*`: lower-case segments of letters, digits and underscores.
    static func isEventPattern(_ text: String) -> Bool {
        text.utf8.count <= 100 && text.range(of: "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*(\\.\\*)?$", options: .regularExpression) != nil
            && text.contains(".")
    }

    func getAuditRecord(_ request: AuditV1.GetAuditRecordRequest, context: ServerCallContext) async throws -> AuditV1.GetAuditRecordResponse {
        var check = Validation()
        var id: UUID?
        var eventID: UUID?
        switch request.key {
        case .auditRecordId(let text)?: id = check.uuid(text, "auditRecordId")
        case .eventId(let text)?: eventID = check.uuid(text, "eventId")
        case nil: check.add("key", "REQUIRED", "auditRecordId or eventId is required")
        }
        try check.finish()
        let record = try await audit.record(id: id, eventID: eventID, Invocation(context, fingerprint: request))
        return AuditV1.GetAuditRecordResponse(record: record.message)
    }

    func verifyChain(_ request: AuditV1.VerifyChainRequest, context: ServerCallContext) async throws -> AuditV1.VerifyChainResponse {
        let invocation = try Invocation(context, fingerprint: request)
        try Audit.requireWholeTrail(invocation.caller, "the audit chain")  // before validation: a tenant learns nothing from it
        var check = Validation()
        let from = request.fromSequence.map { check.range($0.value, "fromSequence.value", 1...Int64.max) }
        let to = request.toSequence.map { check.range($0.value, "toSequence.value", 1...Int64.max) }
        if let from, let to, to < from { check.add("toSequence.value", "OUT_OF_RANGE", "toSequence must not precede fromSequence") }
        try check.finish()
        let report = try await audit.verifyChain(from: from, to: to, invocation)
        return AuditV1.VerifyChainResponse(verification: report.message)
    }

    func checkCompleteness(_ request: AuditV1.CheckCompletenessRequest, context: ServerCallContext) async throws -> AuditV1.CheckCompletenessResponse {
        let invocation = try Invocation(context, fingerprint: request)
        try Audit.requireWholeTrail(invocation.caller, "the completeness check")  // before validation: a tenant learns nothing from it
        var check = Validation()
        let from = check.instant(request.recordedAfter, "recordedAfter")
        let to = check.instant(request.recordedBefore, "recordedBefore")
        let limit = check.range(request.limit, "limit", 0...1000)
        if to < from { check.add("recordedBefore", "OUT_OF_RANGE", "recordedBefore must not precede recordedAfter") }
        try check.finish()
        let report = try await audit.completeness(from: from, to: to, limit: limit == 0 ? 100 : Int(limit), invocation)
        return AuditV1.CheckCompletenessResponse(
            eventsInOutbox: report.eventsInOutbox, eventsAudited: report.eventsAudited,
            missingEventIds: report.missingEventIDs.map(\.lowercasedString), complete: report.complete
        )
    }
}
