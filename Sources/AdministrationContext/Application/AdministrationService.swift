import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import Logging

/// The Administration context's door: decisions about organizations and moderation, each in the
/// unit of work the RPC layer opens. No business state of its own: the database is the truth.
actor AdministrationService {
    nonisolated let bus: EventBus
    nonisolated let logger: Logger

    init(bus: EventBus, logger: Logger) {
        self.bus = bus
        self.logger = logger
    }

    nonisolated var pool: PostgresPool { bus.pool }

    /// Records a decision (a new approval row), moves the summary's status and version, and
    /// publishes the decision; Identity applies it to the organization in the same transaction.
    func decide(
        _ decision: Decision, organization id: UUID, notes: String?, expectedVersion: Int64?, caller: Caller, on work: UnitOfWork
    ) async throws -> (OrganizationSummaryRecord, ApprovalRecord) {
        guard let summary = try await ApprovalStore.lockSummary(id, on: work) else { throw DomainError.notFound("organization") }
        guard summary.kind != .platform else {
            throw DomainError.failedPrecondition("PLATFORM_ORGANIZATION", "the platform organization is not subject to approval")
        }
        if let expectedVersion, expectedVersion != summary.version {
            throw DomainError.staleVersion("organization", expected: expectedVersion, actual: summary.version)
        }
        guard let latest = try await ApprovalStore.latest(of: id, on: work) else { throw CorruptRow(description: "an organization without approvals") }
        guard let next = ApprovalStateMachine.next(after: latest.status, decision) else {
            throw ApprovalStateMachine.refusal(decision, after: latest.status)
        }
        let review = ApprovalStore.Review(reviewer: caller.principalID, reviewerOrganization: caller.organizationID, notes: notes)
        let approval = try await ApprovalStore.append(next, organization: id, review: review, on: work)
        let updated = try await ApprovalStore.updateSummary(id, status: decision.organizationStatus, on: work)
        try await work.publish(DecisionEvents.draft(decision, summary: updated, approval: approval))
        return (updated, approval)
    }

    /// Moderation: logs the action, then asks Identity (in this transaction) to disable the user;
    /// Identity's refusal (no such user, stale version, already disabled) fails the whole verb.
    /// Logs a vehicle moderation and publishes its request; Fleet applies it in this transaction.
    func moderateVehicle(
        _ type: ModerationActionType, _ vehicle: UUID, notes: String, caller: Caller, on work: UnitOfWork,
        payload: (String) -> EventsV1.EventEnvelope.PayloadOneof
    ) async throws -> ModerationActionRecord {
        let action = try await ModerationStore.append(type, targetType: "vehicle", target: vehicle, notes: notes, caller: caller, on: work)
        let id = action.id.lowercasedString
        let name = type == .suspendVehicle ? "moderation.vehicle_suspension_requested" : "moderation.vehicle_block_requested"
        try await work.publish(EventDraft(name, aggregateType: "moderation_action", aggregateID: id, payload: payload(id)))
        return action
    }

    func disableUser(
        _ user: UUID, reason: String, expectedVersion: Int64?, caller: Caller, on work: UnitOfWork
    ) async throws -> ModerationActionRecord {
        let action = try await ModerationStore.append(.disableUser, targetType: "user", target: user, notes: reason, caller: caller, on: work)
        try await work.publish(EventDraft(
            "moderation.user_disable_requested", aggregateType: "moderation_action", aggregateID: action.id.lowercasedString,
            payload: .userDisableRequested(EventsV1.UserDisableRequested(
                moderationActionId: action.id.lowercasedString, userId: user.lowercasedString, reason: reason,
                expectedVersion: expectedVersion.map { CommonV1.Int64Value(value: $0) }
            ))
        ))
        return action
    }
}
