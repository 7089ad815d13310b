import Foundation
import KaroKarKernel
import KaroKarPostgres

/// `administration.moderation_actions`: the moderation log.
enum ModerationStore {
    static func append(
        _ type: ModerationActionType, targetType: String, target: UUID, notes: String, caller: Caller, on work: UnitOfWork
    ) async throws -> ModerationActionRecord {
        try await work.query("""
            INSERT INTO administration.moderation_actions (id, action_type, target_type, target_id, notes, performed_by, performer_organization_id)
            VALUES (\(UUID.random()), \(type.rawValue), \(targetType), \(target), \(notes), \(caller.principalID), \(caller.organizationID))
            RETURNING *
            """).single().moderationAction
    }

    struct Filter: Sendable {
        var type: ModerationActionType?
        var target: UUID?
        var after: Instant?
        var before: Instant?
    }

    /// Newest first, below `after` (the previous page's last key).
    static func list(_ filter: Filter, after: TimeKey?, limit: Int, on database: some Queryable) async throws -> [ModerationActionRecord] {
        try await database.query("""
            SELECT * FROM administration.moderation_actions
            WHERE (\(filter.type?.rawValue)::text IS NULL OR action_type = \(filter.type?.rawValue)::text)
              AND (\(filter.target)::uuid IS NULL OR target_id = \(filter.target)::uuid)
              AND (\(filter.after)::timestamptz IS NULL OR performed_at >= \(filter.after)::timestamptz)
              AND (\(filter.before)::timestamptz IS NULL OR performed_at < \(filter.before)::timestamptz)
              AND (\(after?.time)::timestamptz IS NULL OR (performed_at, id) < (\(after?.time)::timestamptz, \(after?.id)::uuid))
            ORDER BY performed_at DESC, id DESC
            LIMIT \(limit)
            """).map { try $0.moderationAction }
    }
}

extension PostgresRow {
    var summary: OrganizationSummaryRecord {
        get throws {
            OrganizationSummaryRecord(
                organizationID: try decode(UUID.self, "organization_id"), name: try decode(String.self, "name"),
                kind: try enumeration(TenantKind.self, "organization_type"), status: try enumeration(TenantStatus.self, "status"),
                applicantUserID: try decode(UUID.self, "applicant_user_id"), registeredAt: try decode(Instant.self, "registered_at"),
                version: try decode(Int64.self, "version")
            )
        }
    }

    var approval: ApprovalRecord {
        get throws {
            ApprovalRecord(
                id: try decode(UUID.self, "id"), organizationID: try decode(UUID.self, "organization_id"),
                status: try enumeration(ApprovalStatus.self, "status"), reviewedBy: try decode(UUID?.self, "reviewed_by"),
                reviewerOrganizationID: try decode(UUID?.self, "reviewer_organization_id"),
                reviewedAt: try decode(Instant?.self, "reviewed_at"), notes: try decode(String?.self, "notes"),
                createdAt: try decode(Instant.self, "created_at"), sequence: try decode(Int64.self, "sequence")
            )
        }
    }

    var moderationAction: ModerationActionRecord {
        get throws {
            ModerationActionRecord(
                id: try decode(UUID.self, "id"), actionType: try enumeration(ModerationActionType.self, "action_type"),
                targetType: try decode(String.self, "target_type"), targetID: try decode(UUID.self, "target_id"),
                notes: try decode(String.self, "notes"), performedBy: try decode(UUID.self, "performed_by"),
                performedAt: try decode(Instant.self, "performed_at")
            )
        }
    }
}
