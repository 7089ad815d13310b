import Foundation
import KaroKarKernel
import KaroKarPostgres

/// `administration.organizations` and `administration.approvals`.
enum ApprovalStore {
    // MARK: - The organization read model

    static func insertSummary(_ summary: OrganizationSummaryRecord, on work: UnitOfWork) async throws {
        try await work.query("""
            INSERT INTO administration.organizations
                (organization_id, name, organization_type, status, applicant_user_id, registered_at, version)
            VALUES (\(summary.organizationID), \(summary.name), \(summary.kind.rawValue), \(summary.status.rawValue),
                    \(summary.applicantUserID), \(summary.registeredAt)::timestamptz, \(summary.version))
            ON CONFLICT (organization_id) DO NOTHING
            """)
    }

    static func summary(_ id: UUID, on database: some Queryable) async throws -> OrganizationSummaryRecord? {
        try await database.query("SELECT * FROM administration.organizations WHERE organization_id = \(id)").first { _ in true }?.summary
    }

    static func lockSummary(_ id: UUID, on work: UnitOfWork) async throws -> OrganizationSummaryRecord? {
        try await work.query("SELECT * FROM administration.organizations WHERE organization_id = \(id) FOR UPDATE")
            .first { _ in true }?.summary
    }

    static func updateSummary(_ id: UUID, status: TenantStatus, on work: UnitOfWork) async throws -> OrganizationSummaryRecord {
        try await work.query("""
            UPDATE administration.organizations SET status = \(status.rawValue), version = version + 1
            WHERE organization_id = \(id) RETURNING *
            """).single().summary
    }

    // MARK: - Approvals

    struct Review: Sendable {
        var reviewer: UUID
        var reviewerOrganization: UUID
        var notes: String?
    }

    /// Appends a row; `review` is nil for the PENDING row opened by registration.
    static func append(_ status: ApprovalStatus, organization: UUID, review: Review?, on work: UnitOfWork) async throws -> ApprovalRecord {
        try await work.query("""
            INSERT INTO administration.approvals (id, organization_id, status, reviewed_by, reviewer_organization_id, reviewed_at, notes)
            VALUES (\(UUID.random()), \(organization), \(status.rawValue), \(review?.reviewer), \(review?.reviewerOrganization),
                    CASE WHEN \(review != nil) THEN clock_timestamp() END, \(review?.notes))
            RETURNING *
            """).single().approval
    }

    static func latest(of organization: UUID, on database: some Queryable) async throws -> ApprovalRecord? {
        try await database.query("""
            SELECT * FROM administration.approvals WHERE organization_id = \(organization) ORDER BY sequence DESC LIMIT 1
            """).first { _ in true }?.approval
    }

    static func history(of organization: UUID, afterSequence: Int64?, limit: Int, on database: some Queryable) async throws -> [ApprovalRecord] {
        try await database.query("""
            SELECT * FROM administration.approvals
            WHERE organization_id = \(organization) AND (\(afterSequence)::int8 IS NULL OR sequence > \(afterSequence)::int8)
            ORDER BY sequence LIMIT \(limit)
            """).map { try $0.approval }
    }

    /// PENDING organizations (of `kinds`) with their open approval, oldest first, after `after`.
    static func pending(
        kinds: [TenantKind], after: TimeKey?, limit: Int, on database: some Queryable
    ) async throws -> [PendingApproval] {
        let rows = try await database.query("""
            SELECT o.*, a.id AS a_id, a.sequence AS a_sequence, a.status AS a_status, a.created_at AS a_created_at
            FROM administration.organizations o
            JOIN LATERAL (SELECT * FROM administration.approvals x WHERE x.organization_id = o.organization_id
                          ORDER BY x.sequence DESC LIMIT 1) a ON true
            WHERE o.status = 'PENDING' AND o.organization_type = ANY(\(kinds.map(\.rawValue))::text[])
              AND (\(after?.time)::timestamptz IS NULL
                   OR (o.registered_at, o.organization_id) > (\(after?.time)::timestamptz, \(after?.id)::uuid))
            ORDER BY o.registered_at, o.organization_id
            LIMIT \(limit)
            """)
        return try rows.map { row in
            let summary = try row.summary
            let approval = ApprovalRecord(
                id: try row.decode(UUID.self, "a_id"), organizationID: summary.organizationID,
                status: try row.enumeration(ApprovalStatus.self, "a_status"), reviewedBy: nil, reviewerOrganizationID: nil,
                reviewedAt: nil, notes: nil, createdAt: try row.decode(Instant.self, "a_created_at"),
                sequence: try row.decode(Int64.self, "a_sequence")
            )
            return PendingApproval(organization: summary, approval: approval)
        }
    }

    /// Organizations per (type, status), and how many wait for a decision.
    static func counts(on database: some Queryable) async throws -> [OrganizationCount] {
        try await database.query("""
            SELECT organization_type, status, count(*) AS n FROM administration.organizations
            GROUP BY organization_type, status ORDER BY organization_type, status
            """).map { row in
            OrganizationCount(
                kind: try row.enumeration(TenantKind.self, "organization_type"), status: try row.enumeration(TenantStatus.self, "status"),
                count: try row.decode(Int64.self, "n")
            )
        }
    }
}
