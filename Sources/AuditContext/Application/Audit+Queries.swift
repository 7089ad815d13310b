import Foundation
import KaroKarKernel

/// The trail's reads. Tenancy: platform administrators (the platform organization) read every
/// tenant's records; anyone else only their own organization's, whatever they ask for (a record
/// of another tenant answers NOT_FOUND, a query naming another tenant finds nothing). The chain
/// and the completeness check span every tenant: platform administrators only.
extension Audit {
    static func seesAll(_ caller: Caller) -> Bool {
        caller.isSystem || (caller.organizationKind == .platform && caller.permissions.contains(.auditRead))
    }

    /// One page of records.
    nonisolated func records(matching filter: AuditFilter, page: Page<AuditKey>, _ invocation: Invocation) async throws -> [AuditRecord] {
        var filter = filter
        let caller = invocation.caller
        if !Self.seesAll(caller) {
            if let asked = filter.organizationID, asked != caller.organizationID { return [] }
            filter.organizationID = caller.organizationID
        }
        return try await bus.read(invocation) { work in
            try await AuditStore.query(filter, after: page.after, limit: page.fetchLimit, work)
        }
    }

    /// One record by its id or its event's id.
    nonisolated func record(id: UUID?, eventID: UUID?, _ invocation: Invocation) async throws -> AuditRecord {
        let caller = invocation.caller
        let found = try await bus.read(invocation) { work in try await AuditStore.record(id: id, eventID: eventID, work) }
        guard let found, Self.seesAll(caller) || found.organizationID == caller.organizationID else {
            throw DomainError.notFound("audit record")
        }
        return found
    }

    /// Refuses a caller who may not see the whole trail (the chain, the completeness check). The
    /// RPC layer calls it before validating the request: a tenant learns nothing from the
    /// validation of a call it may not make.
    static func requireWholeTrail(_ caller: Caller, _ what: String) throws {
        guard seesAll(caller) else { throw DomainError.permissionDenied("\(what) spans every tenant: platform administrators only") }
    }

    /// Recomputes the chain over [from, to].
    nonisolated func verifyChain(from: Int64?, to: Int64?, _ invocation: Invocation) async throws -> ChainReport {
        try Self.requireWholeTrail(invocation.caller, "the audit chain")
        let now = environment.clock.now()
        return try await bus.read(invocation) { work in try await AuditStore.verify(from: from, to: to, now: now, work) }
    }

    /// The outbox against the trail over [from, to).
    nonisolated func completeness(from: Instant, to: Instant, limit: Int, _ invocation: Invocation) async throws -> CompletenessReport {
        try Self.requireWholeTrail(invocation.caller, "the completeness check")
        return try await bus.read(invocation) { work in try await AuditStore.completeness(from: from, to: to, limit: limit, work) }
    }
}
