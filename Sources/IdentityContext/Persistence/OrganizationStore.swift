import Foundation
import KaroKarKernel
import KaroKarPostgres

/// `identity.organizations`.
enum OrganizationStore {
    struct Filter: Sendable {
        var kind: TenantKind?
        var statuses: [TenantStatus] = []
        var parentID: UUID?
        var namePrefix: String?
        /// nil: every organization (platform administrators); else this one and its children.
        var visibleTo: UUID?
    }

    static func insert(_ organization: OrganizationRecord, on database: some Queryable) async throws -> OrganizationRecord {
        try await database.query("""
            INSERT INTO identity.organizations (id, name, type, status, parent_organization_id, metadata)
            VALUES (\(organization.id), \(organization.name), \(organization.kind.rawValue), \(organization.status.rawValue),
                    \(organization.parentID), \(MetadataJSON.encode(organization.metadata))::jsonb)
            RETURNING *
            """).single().organization
    }

    static func find(_ id: UUID, on database: some Queryable) async throws -> OrganizationRecord? {
        try await database.query("SELECT * FROM identity.organizations WHERE id = \(id)").first { _ in true }?.organization
    }

    /// Locks the organization's row for the rest of the transaction (member changes that count
    /// administrators serialize on it).
    static func lock(_ id: UUID, on work: UnitOfWork) async throws -> OrganizationRecord? {
        try await work.query("SELECT * FROM identity.organizations WHERE id = \(id) FOR UPDATE").first { _ in true }?.organization
    }

    static func platform(on database: some Queryable) async throws -> OrganizationRecord? {
        try await database.query("SELECT * FROM identity.organizations WHERE type = 'PLATFORM'").first { _ in true }?.organization
    }

    static func list(_ filter: Filter, page: Keyset, on database: some Queryable) async throws -> [OrganizationRecord] {
        try await database.query("""
            SELECT * FROM identity.organizations
            WHERE (\(filter.visibleTo)::uuid IS NULL OR id = \(filter.visibleTo)::uuid OR parent_organization_id = \(filter.visibleTo)::uuid)
              AND (\(filter.kind?.rawValue)::text IS NULL OR type = \(filter.kind?.rawValue)::text)
              AND (cardinality(\(filter.statuses.map(\.rawValue))::text[]) = 0 OR status = ANY(\(filter.statuses.map(\.rawValue))::text[]))
              AND (\(filter.parentID)::uuid IS NULL OR parent_organization_id = \(filter.parentID)::uuid)
              AND (\(filter.namePrefix)::text IS NULL OR starts_with(lower(name), lower(\(filter.namePrefix)::text)))
              AND (\(page.afterTime)::timestamptz IS NULL OR (created_at, id) > (\(page.afterTime)::timestamptz, \(page.afterID)::uuid))
            ORDER BY created_at, id
            LIMIT \(page.fetchLimit)
            """).map { try $0.organization }
    }

    /// Moves the organization's status for an Administration decision. The decision carries the
    /// organization's version after the change (Administration keeps a copy, from these same
    /// events); a different one means the two have drifted, and the decision is refused.
    static func applyDecision(
        _ id: UUID, to status: TenantStatus, from allowed: Set<TenantStatus>, version: Int64, on work: UnitOfWork
    ) async throws -> OrganizationRecord {
        guard let current = try await lock(id, on: work) else { throw DomainError.notFound("organization") }
        guard allowed.contains(current.status) else {
            throw DomainError.failedPrecondition("INVALID_ORGANIZATION_TRANSITION", "the organization is \(current.status.rawValue)")
        }
        guard version == 0 || current.version + 1 == version else {
            throw DomainError.staleVersion("organization", expected: version - 1, actual: current.version)
        }
        return try await work.query("""
            UPDATE identity.organizations SET status = \(status.rawValue), version = version + 1, updated_at = clock_timestamp()
            WHERE id = \(id) RETURNING *
            """).single().organization
    }
}
