import Foundation
import KaroKarKernel
import KaroKarPostgres

/// `identity.organizations`.
enum OrganizationStore {
    static func insert(_ organization: OrganizationRecord, on database: some Queryable) async throws -> OrganizationRecord {
        try await database.query("""
            INSERT INTO identity.organizations (id, name, type, status, parent_organization_id, metadata)
            VALUES (\(organization.id), \(organization.name), \(organization.kind.rawValue), \(organization.status.rawValue),
                    \(organization.parentID), \(try MetadataJSON.encode(organization.metadata))::jsonb)
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

    /// Waits for, then holds until the transaction ends, the lock every instance takes to bootstrap.
    static func lockBootstrap(_ key: Int64, on work: UnitOfWork) async throws {
        try await work.query("SELECT pg_advisory_xact_lock(\(key))")
    }

    static func platform(on database: some Queryable) async throws -> OrganizationRecord? {
        try await database.query("SELECT * FROM identity.organizations WHERE type = 'PLATFORM'").first { _ in true }?.organization
    }

    /// Organizations `filter` selects, by creation, after `after`. `visibleTo`: nil for every
    /// organization (platform administrators), else that one and its children.
    static func list(
        _ filter: OrganizationFilter, visibleTo: UUID?, after: TimeKey?, limit: Int, on database: some Queryable
    ) async throws -> [OrganizationRecord] {
        try await database.query("""
            SELECT * FROM identity.organizations
            WHERE (\(visibleTo)::uuid IS NULL OR id = \(visibleTo)::uuid OR parent_organization_id = \(visibleTo)::uuid)
              AND (\(filter.kind?.rawValue)::text IS NULL OR type = \(filter.kind?.rawValue)::text)
              AND (cardinality(\(filter.statuses.map(\.rawValue))::text[]) = 0 OR status = ANY(\(filter.statuses.map(\.rawValue))::text[]))
              AND (\(filter.parentID)::uuid IS NULL OR parent_organization_id = \(filter.parentID)::uuid)
              AND (\(filter.namePrefix)::text IS NULL OR starts_with(lower(name), lower(\(filter.namePrefix)::text)))
              AND (\(after?.time)::timestamptz IS NULL OR (created_at, id) > (\(after?.time)::timestamptz, \(after?.id)::uuid))
            ORDER BY created_at, id
            LIMIT \(limit)
            """).map { try $0.organization }
    }

    /// Sets the status for an Administration decision; bumps the version.
    static func setStatus(_ id: UUID, _ status: TenantStatus, on work: UnitOfWork) async throws -> OrganizationRecord {
        try await work.query("""
            UPDATE identity.organizations SET status = \(status.rawValue), version = version + 1, updated_at = clock_timestamp()
            WHERE id = \(id) RETURNING *
            """).single().organization
    }
}
