import Foundation
import KaroKarKernel
import KaroKarMessages

/// What Fleet does when other contexts' events are published, inside their transactions:
/// invariants depend on these (a suspended vendor's vehicles leave search at once; a moderation
/// request fails when Fleet cannot apply it). Each runs the use cases' own code on the
/// publisher's unit of work, as ``Caller/system``; Fleet's events keep the publisher's origin
/// (an administrator's moderation stays the administrator's).
extension Fleet {
    nonisolated func subscribeReactions(to bus: EventBus) {
        bus.react(to: "organization.*", as: "fleet.owners") { event, work in
            try await Self.recordOwner(event, work)
        }
        bus.react(to: "moderation.vehicle_suspension_requested", "moderation.vehicle_block_requested", as: "fleet.moderation") { event, work in
            try await self.moderate(event, work)
        }
        bus.react(to: "verification.*", as: "fleet.verifications") { event, work in
            try await self.recordVerification(event, work)
        }
        bus.react(to: "booking.approved", "booking.assigned", "booking.completed", "booking.cancelled", "booking.terminated",
                  as: "fleet.bookings") { event, work in
            try await self.applyBooking(event, work)
        }
        bus.react(to: "assignment.created", "assignment.rejected", "assignment.completed", "assignment.closed",
                  as: "fleet.assignments") { event, work in
            try await self.applyAssignment(event, work)
        }
    }

    /// Every organization event carries the organization's type; the event says its new status.
    static func recordOwner(_ event: EventsV1.EventEnvelope, _ work: UnitOfWork) async throws {
        let fact: (String, EventsV1.OrganizationType, TenantStatus)?
        switch event.payload {
        case .organizationRegistered(let p): fact = (p.organizationId, p.organizationType, .pending)
        case .organizationApproved(let p): fact = (p.organizationId, p.organizationType, .active)
        case .organizationReinstated(let p): fact = (p.organizationId, p.organizationType, .active)
        case .organizationSuspended(let p): fact = (p.organizationId, p.organizationType, .suspended)
        case .organizationRejected(let p): fact = (p.organizationId, p.organizationType, .rejected)
        default: fact = nil
        }
        guard let (id, type, status) = fact, let organization = UUID(hyphenated: id),
              let kind = type.storedName.flatMap(TenantKind.init(rawValue:))
        else { return }
        try await VehicleStore.upsertOwner(organization, kind: kind, status: status, work)
    }

    /// Administration's moderation requests: an ADMIN_ACTION suspension or a block, refused
    /// (and the moderation with it) when Fleet cannot apply it.
    nonisolated func moderate(_ event: EventsV1.EventEnvelope, _ work: UnitOfWork) async throws {
        var check = Validation()
        switch event.payload {
        case .vehicleSuspensionRequested(let request):
            let vehicleID = check.uuid(request.vehicleId, "vehicleId")
            let period = check.openPeriod(request.period, "period")
            let action = check.optionalUUID(request.moderationActionId, "moderationActionId")
            try check.finish()
            let vehicle = try await FleetAccess.ownedVehicle(vehicleID, .system, expectedVersion: request.expectedVersion?.value, work)
            let opening = SuspensionOpening(
                reason: .adminAction, period: period, notes: request.notes.isEmpty ? nil : request.notes, moderationAction: action
            )
            _ = try await openSuspension(on: vehicle, opening, work)
        case .vehicleBlockRequested(let request):
            let vehicleID = check.uuid(request.vehicleId, "vehicleId")
            let period = check.period(request.period, "period")
            let reason = check.text(request.reason, "reason", maximumLength: 500)
            let action = check.optionalUUID(request.moderationActionId, "moderationActionId")
            try check.finish()
            let vehicle = try await FleetAccess.ownedVehicle(vehicleID, .system, expectedVersion: request.expectedVersion?.value, work)
            _ = try await placeBlock(on: vehicle, period: period, reason: reason, moderationAction: action, byPlatform: true, work)
        default:
            return
        }
    }

    /// Keeps the activation gate's view, and suspends a vehicle whose verification expired or
    /// was revoked (from now on, open-ended).
    nonisolated func recordVerification(_ event: EventsV1.EventEnvelope, _ work: UnitOfWork) async throws {
        guard let fact = VerificationFact(event.payload), let vehicleID = try await fact.vehicle(work) else { return }
        try await VerificationStore.record(fact.id, vehicle: vehicleID, type: fact.type, status: fact.status, expiresAt: fact.expiresAt, work)
        guard fact.status.suspends else { return }
        // A renewal approved before this one expired (or was revoked) still covers the vehicle.
        let now = environment.clock.now()
        guard try await !VerificationStore.covered(vehicle: vehicleID, type: fact.type, at: now, work) else { return }
        let opening = SuspensionOpening(reason: fact.type.suspensionReason, period: .from(now), verification: fact.id)
        _ = try await suspendForCompliance(vehicleID, opening, work)
    }
}

/// A `verification.*` event about one of the verification types a vehicle needs.
private struct VerificationFact {
    let id: UUID
    let subject: EventsV1.VerificationSubjectType
    let subjectID: String
    let type: VerificationType
    let status: VerificationStatus
    let expiresAt: Instant?

    /// Nil for other events, other verification types and malformed ids.
    init?(_ payload: EventsV1.EventEnvelope.PayloadOneof?) {
        let fact: (String, EventsV1.VerificationSubjectType, String, EventsV1.VerificationType, VerificationStatus, CommonV1.Timestamp?)
        switch payload {
        case .verificationApproved(let p): fact = (p.verificationId, p.subjectType, p.subjectId, p.verificationType, .approved, p.expiresAt)
        case .verificationRejected(let p): fact = (p.verificationId, p.subjectType, p.subjectId, p.verificationType, .rejected, nil)
        case .verificationExpired(let p): fact = (p.verificationId, p.subjectType, p.subjectId, p.verificationType, .expired, nil)
        case .verificationRevoked(let p): fact = (p.verificationId, p.subjectType, p.subjectId, p.verificationType, .revoked, nil)
        default: return nil
        }
        guard let id = UUID(hyphenated: fact.0), let type = fact.3.storedName.flatMap(VerificationType.init(rawValue:)) else { return nil }
        (self.id, subject, subjectID, self.type, status, expiresAt) = (id, fact.1, fact.2, type, fact.4, fact.5.map(Instant.init))
    }

    /// The vehicle the subject stands for (the vehicle itself, or a document's), when it is Fleet's.
    func vehicle(_ work: UnitOfWork) async throws -> UUID? {
        guard let id = UUID(hyphenated: subjectID) else { return nil }
        switch subject {
        case .vehicle: return try await VerificationStore.vehicle(id, work)
        case .vehicleDocument: return try await VerificationStore.vehicle(ofDocument: id, work)
        default: return nil
        }
    }
}
