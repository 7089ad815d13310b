import Foundation
import KaroKarKernel

/// The one way an assignment changes status: locked, authorized, version checked, moved by
/// ``AssignmentStateMachine`` (else `INVALID_ASSIGNMENT_TRANSITION`, nothing changed), saved
/// with a version bump, its one event published in the same unit of work.
extension Assignment {
    typealias Authorization = (AssignmentRecord, Caller) throws -> Void
    typealias Change = (inout AssignmentRecord) throws -> Void

    nonisolated func transition(
        _ id: UUID, _ command: AssignmentCommand, expectedVersion: Int64?, _ invocation: Invocation, authorize: Authorization,
        apply: Change = { _ in }
    ) async throws -> AssignmentRecord {
        try await bus.mutation(invocation) { work in
            guard let found = try await AssignmentStore.lock(id, work) else { throw DomainError.notFound("assignment") }
            try authorize(found, invocation.caller)
            try ExpectedVersion.check(expectedVersion, found.version, "assignment")
            return try await move(found, command, work, apply: apply)
        }
    }

    /// Moves a locked assignment inside `work` (use cases and reactions).
    nonisolated func move(
        _ found: AssignmentRecord, _ command: AssignmentCommand, _ work: UnitOfWork, apply: Change = { _ in }
    ) async throws -> AssignmentRecord {
        var next = found
        next.status = try AssignmentStateMachine.checked(from: found.status, command)
        next.updatedAt = environment.clock.now()
        try apply(&next)
        let saved = try await AssignmentStore.save(next, work)
        try await work.publish(AssignmentEvents.transition(command, saved, previous: found.status))
        return saved
    }

    /// Inserts a new assignment and publishes `assignment.created` (for a corporate-owned vehicle,
    /// Fleet places its ALLOCATED record in this transaction, or vetoes: `VEHICLE_NOT_AVAILABLE`).
    nonisolated func create(_ record: AssignmentRecord, _ work: UnitOfWork) async throws -> AssignmentRecord {
        let saved = try await AssignmentStore.insert(record, work)
        try await work.publish(AssignmentEvents.created(saved))
        return saved
    }

    /// A new record's common fields.
    nonisolated func newAssignment(
        id: UUID = UUID.random(), booking: UUID?, vehicle: UUID, corporate: UUID, employee: UUID, period: Period, status: AssignmentStatus,
        createdBy: String, replaces: UUID? = nil
    ) -> AssignmentRecord {
        let now = environment.clock.now()
        return AssignmentRecord(
            id: id, bookingID: booking, vehicleID: vehicle, corporateID: corporate, employeeID: employee, period: period, status: status,
            createdBy: createdBy, respondedAt: status == .accepted ? now : nil, replaces: replaces, version: 1, createdAt: now, updatedAt: now
        )
    }

    /// An ACTIVE member of `corporate`, or `EMPLOYEE_NOT_ACTIVE_MEMBER`.
    nonisolated func checkMember(_ employee: UUID, of corporate: UUID, _ work: UnitOfWork) async throws {
        guard let member = try await members.member(user: employee, organization: corporate, on: work), member.mayReceiveVehicles else {
            throw AssignmentError.employeeNotMember()
        }
    }
}

extension Caller {
    var actorName: String { isSystem ? "system" : principalID.lowercasedString }
}
