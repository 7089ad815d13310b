import Foundation
import KaroKarKernel

/// The verbs of AssignmentService (DOMAIN.md section 7): direct assignment of a corporate-owned
/// vehicle, the employee's answer, reassignment, handover and return of a corporate-owned
/// vehicle, closing.
extension Assignment {
    /// A PENDING assignment of one of the caller's corporate's ACTIVE corporate-owned vehicles to
    /// an ACTIVE member; Fleet places the ALLOCATED / ASSIGNMENT record in the same transaction.
    nonisolated func createAssignment(vehicle: UUID, employee: UUID, period: Period, _ invocation: Invocation) async throws -> AssignmentRecord {
        let caller = invocation.caller
        guard caller.organizationKind == .corporate, !caller.actsAcrossTenants else { throw AssignmentError.corporatesOnly() }
        return try await bus.mutation(invocation) { work in
            guard let facts = try await vehicles.bookingFacts(vehicle, on: work), facts.ownerOrganizationID == caller.organizationID else {
                throw DomainError.notFound("vehicle")
            }
            guard facts.ownership == .corporateOwned, facts.status == .active else { throw AssignmentError.vehicleNotAssignable() }
            try await checkMember(employee, of: caller.organizationID, work)
            let record = newAssignment(
                booking: nil, vehicle: vehicle, corporate: caller.organizationID, employee: employee, period: period, status: .pending,
                createdBy: caller.actorName
            )
            return try await create(record, work)
        }
    }

    /// The employee accepts their own PENDING assignment.
    nonisolated func accept(_ id: UUID, expectedVersion: Int64?, _ invocation: Invocation) async throws -> AssignmentRecord {
        try await transition(id, .accept, expectedVersion: expectedVersion, invocation, authorize: AssignmentTenancy.checkOwn) { assignment in
            assignment.respondedAt = assignment.updatedAt
        }
    }

    /// The employee refuses their own PENDING assignment; a booking stays ASSIGNED (the corporate
    /// may reassign), a corporate-owned vehicle's record is released by Fleet.
    nonisolated func reject(_ id: UUID, reason: String?, expectedVersion: Int64?, _ invocation: Invocation) async throws -> AssignmentRecord {
        try await transition(id, .reject, expectedVersion: expectedVersion, invocation, authorize: AssignmentTenancy.checkOwn) { assignment in
            assignment.respondedAt = assignment.updatedAt
            assignment.rejectionReason = reason
        }
    }

    /// Replaces an assignment with a new PENDING one for another ACTIVE member (same vehicle,
    /// booking and period; the booking is untouched). A live one is CLOSED (REASSIGNED); a
    /// REJECTED one stays REJECTED and records its replacement. Not after the booking ended.
    nonisolated func reassign(
        _ id: UUID, to employee: UUID, notes: String?, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> Reassignment {
        try await bus.mutation(invocation) { work in
            guard let old = try await AssignmentStore.lock(id, work) else { throw DomainError.notFound("assignment") }
            try AssignmentTenancy.checkManaged(old, invocation.caller)
            try ExpectedVersion.check(expectedVersion, old.version, "assignment")
            guard old.replacedBy == nil, !old.bookingEnded, old.status != .completed, old.status != .closed else {
                throw DomainError.failedPrecondition("INVALID_ASSIGNMENT_TRANSITION", "this assignment can no longer be reassigned")
            }
            try await checkMember(employee, of: old.corporateID, work)
            let newID = UUID.random()
            var closed = old
            if old.status == .rejected {
                closed.replacedBy = newID
                closed.updatedAt = environment.clock.now()
                closed = try await AssignmentStore.save(closed, work)
            } else {
                closed = try await move(old, .close, work) { assignment in
                    assignment.close(.reassigned, by: invocation.caller, notes: notes)
                    assignment.replacedBy = newID
                }
            }
            let record = newAssignment(
                id: newID, booking: old.bookingID, vehicle: old.vehicleID, corporate: old.corporateID, employee: employee,
                period: old.period, status: .pending, createdBy: invocation.caller.actorName, replaces: old.id
            )
            return Reassignment(closed: closed, created: try await create(record, work))
        }
    }

    /// Handover of a corporate-owned vehicle: ACCEPTED -> ACTIVE.
    nonisolated func activate(_ id: UUID, expectedVersion: Int64?, _ invocation: Invocation) async throws -> AssignmentRecord {
        try await transition(id, .activate, expectedVersion: expectedVersion, invocation, authorize: Self.directOnly) { assignment in
            assignment.activatedAt = assignment.updatedAt
        }
    }

    /// Return of a corporate-owned vehicle: ACTIVE -> COMPLETED; Fleet releases its record.
    nonisolated func complete(_ id: UUID, expectedVersion: Int64?, _ invocation: Invocation) async throws -> AssignmentRecord {
        try await transition(id, .complete, expectedVersion: expectedVersion, invocation, authorize: Self.directOnly) { assignment in
            assignment.completedAt = assignment.updatedAt
        }
    }

    /// Any non-terminal -> CLOSED by the corporate (or an administrator); a corporate-owned
    /// vehicle's record is released by Fleet.
    nonisolated func close(_ id: UUID, notes: String?, expectedVersion: Int64?, _ invocation: Invocation) async throws -> AssignmentRecord {
        let caller = invocation.caller
        return try await transition(id, .close, expectedVersion: expectedVersion, invocation, authorize: AssignmentTenancy.checkManaged) {
            $0.close(caller.actsAcrossTenants ? .adminAction : .corporateAction, by: caller, notes: notes)
        }
    }

    static func directOnly(_ assignment: AssignmentRecord, _ caller: Caller) throws {
        try AssignmentTenancy.checkManaged(assignment, caller)
        guard assignment.isDirect else { throw AssignmentError.bookingManaged() }
    }
}

extension AssignmentRecord {
    mutating func close(_ reason: CloseReason, by caller: Caller, notes: String?) {
        closedAt = updatedAt
        closedBy = caller.isSystem ? nil : caller.principalID
        closeReason = reason
        closeNotes = notes
    }
}
