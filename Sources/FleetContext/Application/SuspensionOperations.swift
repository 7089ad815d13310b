import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres

/// Suspensions (DOMAIN.md section 5): opening one sets the vehicle `SUSPENDED` and opens a
/// SUSPENDED record, even over existing reservations; lifting the last open one restores
/// `ACTIVE`. The vehicle's status and its open suspensions always change in one unit of work (and
/// the database checks at commit that they agree).
enum SuspensionOperations {
    struct Opening: Sendable {
        var reason: FleetV1.SuspensionReason
        var period: PostgresTimestampRange
        var notes: String?
        var document: UUID?
        var verification: String?
        var moderationAction: String?
    }

    static func open(_ vehicle: FleetV1.Vehicle, _ opening: Opening, _ work: UnitOfWork) async throws -> (FleetV1.VehicleSuspension, FleetV1.Vehicle) {
        let current = VehicleOperations.state(vehicle)
        let next = try current.suspended()
        let id = UUID.random()
        let vehicleID = UUID(hyphenated: vehicle.id)!
        let hold = try await AvailabilityEngine.hold(HoldOperations.newHold(vehicle, opening.period, .suspended, .suspension, id), work)
        let suspension = try await SuspensionStore.insert(SuspensionStore.NewSuspension(
            id: id, vehicle: vehicle, reason: opening.reason, period: opening.period, notes: opening.notes, hold: UUID(hyphenated: hold.id)!,
            document: opening.document, actor: work.actorID
        ), work)
        let updated = next == current ? vehicle : try await VehicleStore.setStatus(vehicleID, next, work)
        try await work.publish(EventDraft(
            "vehicle.suspended", aggregateType: "vehicle", aggregateID: vehicle.id, aggregateVersion: updated.version,
            payload: .vehicleSuspended(EventsV1.VehicleSuspended(
                vehicleId: vehicle.id, organizationId: vehicle.organizationId, suspensionId: suspension.id,
                reason: suspension.reason.converted(), period: suspension.period, notes: suspension.notes,
                availabilityRecordId: suspension.availabilityRecordId,
                overlappingBookingIds: try await AvailabilityStore.overlappingSources(vehicleID, opening.period, .booking, work),
                overlappingAssignmentIds: try await AvailabilityStore.overlappingSources(vehicleID, opening.period, .assignment, work),
                moderationActionId: opening.moderationAction.map { CommonV1.StringValue(value: $0) },
                documentId: opening.document.map { CommonV1.StringValue(value: $0.postgresText) },
                verificationId: opening.verification.map { CommonV1.StringValue(value: $0) }
            ))
        ))
        return (suspension, updated)
    }

    /// Who may lift what: an administrator's hold only platform administrators; an expiry hold
    /// only once the vehicle has a valid document of that kind again; the owner's own request, the owner.
    static func checkLift(_ suspension: FleetV1.VehicleSuspension, caller: Caller?, _ work: UnitOfWork) async throws {
        guard suspension.liftedAt == nil else {
            throw DomainError.failedPrecondition("SUSPENSION_ALREADY_LIFTED", "the suspension was already lifted")
        }
        if suspension.reason == .adminAction, let caller, !caller.actsAcrossTenants {
            throw DomainError.permissionDenied("only platform administrators lift an administrator's suspension")
        }
        if let document = expiryDocumentType(suspension.reason) {
            let now = PostgresTimestamp(seconds: Int64(Date().timeIntervalSince1970))
            guard try await DocumentStore.hasValid(vehicle: UUID(hyphenated: suspension.vehicleId)!, type: document, at: now, work) else {
                throw DomainError.failedPrecondition("DOCUMENT_EXPIRED", "add a valid \(document.lowercased()) document before lifting this suspension")
            }
        }
    }

    /// The compliance document whose expiry a reason stands for.
    static func expiryDocumentType(_ reason: FleetV1.SuspensionReason) -> String? {
        switch reason {
        case .registrationExpired: "REGISTRATION"
        case .insuranceExpired: "INSURANCE"
        case .fitnessCertificateExpired: "FITNESS_CERTIFICATE"
        default: nil
        }
    }

    static func lift(
        _ suspension: FleetV1.VehicleSuspension, vehicle: FleetV1.Vehicle, notes: String?, retiring: Bool = false, _ work: UnitOfWork
    ) async throws -> (FleetV1.VehicleSuspension, FleetV1.Vehicle) {
        let id = UUID(hyphenated: suspension.id)!
        let vehicleID = UUID(hyphenated: vehicle.id)!
        let lifted = try await SuspensionStore.lift(id, notes: notes, by: work.actorID, work)
        try await AvailabilityEngine.release(.suspension, id, work)
        var updated = vehicle
        if !retiring {
            let current = VehicleOperations.state(vehicle)
            let next = current.afterLift(openSuspensionsLeft: try await !SuspensionStore.openOnes(vehicle: vehicleID, work).isEmpty)
            if next != current { updated = try await VehicleStore.setStatus(vehicleID, next, work) }
        }
        try await work.publish(EventDraft(
            "vehicle.suspension_lifted", aggregateType: "vehicle", aggregateID: vehicle.id, aggregateVersion: updated.version,
            payload: .vehicleSuspensionLifted(EventsV1.VehicleSuspensionLifted(
                vehicleId: vehicle.id, organizationId: vehicle.organizationId, suspensionId: lifted.id, reason: lifted.reason.converted(),
                vehicleStatus: updated.status.converted(), notes: lifted.notes
            ))
        ))
        return (lifted, updated)
    }
}
