import Foundation
import KaroKarKernel

/// Suspensions (DOMAIN.md section 5): opening one sets the vehicle `SUSPENDED` and opens a
/// SUSPENDED record, even over existing reservations (their parties are named in the event);
/// lifting the last open one restores `ACTIVE`. The vehicle's status and its open suspensions
/// always change in one unit of work (and the database checks at commit that they agree).
extension Fleet {
    /// Suspends a vehicle the caller owns. Which reasons a caller may choose is refused at the
    /// edge, as a field violation (``SuspensionReason/mayBeChosen(by:)``).
    nonisolated func suspendVehicle(
        _ id: UUID, _ opening: SuspensionOpening, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> SuspensionOutcome {
        try await changing(vehicle: id, expectedVersion: expectedVersion, invocation) { vehicle, work in
            try await openSuspension(on: vehicle, opening, work)
        }
    }

    /// Lifts a suspension of a vehicle the caller owns: an ADMIN_ACTION one only by platform
    /// administrators, an expiry one only once a valid document of its kind is on file.
    nonisolated func liftSuspension(
        _ id: UUID, notes: String?, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> SuspensionOutcome {
        try await bus.mutation(invocation) { work in
            let caller = invocation.caller
            guard let found = try await SuspensionStore.lock(id, work), caller.reaches(found.organizationID) else {
                throw DomainError.notFound("suspension")
            }
            let vehicle = try await FleetAccess.ownedVehicle(found.vehicleID, caller, work)
            try ExpectedVersion.check(expectedVersion, found.version, "suspension")
            try found.checkLiftable(by: caller)
            if let document = found.reason.expiredDocument {
                let now = environment.clock.now()
                guard try await DocumentStore.hasValid(vehicle: found.vehicleID, type: document, at: now, work) else {
                    throw FleetError.documentExpired(document)
                }
                // A hold the document sweep did not open (an expired or revoked verification's,
                // or an administrator's): with the gate on, the verification must cover the
                // vehicle again too (an approved renewal), or the gate would be bypassed.
                if found.documentID == nil, options.activationRequiresVerification,
                   let type = VerificationType.allCases.first(where: { $0.suspensionReason == found.reason }),
                   try await !VerificationStore.covered(vehicle: found.vehicleID, type: type, at: now, work) {
                    throw FleetError.verificationRequired()
                }
            }
            return try await lift(found, of: vehicle, notes: notes, retiring: false, work)
        }
    }

    /// A page of a vehicle's suspensions, by creation (its owner and platform administrators).
    nonisolated func suspensions(
        of vehicle: UUID, includeLifted: Bool, page: Page<TimeKey>, _ invocation: Invocation
    ) async throws -> [Suspension] {
        try await bus.read(invocation) { work in
            _ = try await FleetAccess.historyOf(vehicle, invocation.caller, work)
            return try await SuspensionStore.list(vehicle: vehicle, includeLifted: includeLifted, after: page.after, limit: page.fetchLimit, work)
        }
    }

    // MARK: - In a unit of work (the RPCs above, moderation, the sweep, verifications, retirement)

    /// Opens the suspension and its SUSPENDED record on a locked vehicle; emits `vehicle.suspended`.
    nonisolated func openSuspension(on vehicle: Vehicle, _ opening: SuspensionOpening, _ work: UnitOfWork) async throws -> SuspensionOutcome {
        let next = try vehicle.status.suspended()
        let row = try await AvailabilityEngine.holdForNew(.suspended, .suspension, over: opening.period, on: vehicle, work)
        let suspension = try await SuspensionStore.insert(row, opening, work)
        let updated = next == vehicle.status ? vehicle : try await VehicleStore.setStatus(vehicle.id, next, work)
        let bookings = try await AvailabilityStore.overlappingSources(vehicle.id, opening.period, .booking, work)
        let assignments = try await AvailabilityStore.overlappingSources(vehicle.id, opening.period, .assignment, work)
        try await work.publish(VehicleEvents.suspended(suspension, vehicle: updated, opening, overlapping: (bookings, assignments)))
        return SuspensionOutcome(suspension: suspension, vehicle: updated)
    }

    /// A compliance hold (an expired document or verification), opened by the system: nil when
    /// the vehicle is not suspendable or already has a suspension for this reason open.
    nonisolated func suspendForCompliance(_ vehicleID: UUID, _ opening: SuspensionOpening, _ work: UnitOfWork) async throws -> Suspension? {
        let vehicle = try await FleetAccess.ownedVehicle(vehicleID, .system, work)
        let open = try await SuspensionStore.openOnes(vehicle: vehicleID, work)
        guard vehicle.status.isSuspendable, !open.contains(where: { $0.reason == opening.reason }) else { return nil }
        return try await openSuspension(on: vehicle, opening, work).suspension
    }

    /// Lifts a suspension of a locked vehicle and releases its record; unless the vehicle is
    /// retiring, it becomes ACTIVE when no other suspension is left open. Emits
    /// `vehicle.suspension_lifted`.
    nonisolated func lift(
        _ suspension: Suspension, of vehicle: Vehicle, notes: String?, retiring: Bool, _ work: UnitOfWork
    ) async throws -> SuspensionOutcome {
        let lifted = try await SuspensionStore.lift(suspension.id, notes: notes, by: work.actorID, work)
        try await AvailabilityEngine.release(.suspension, suspension.id, work)
        var updated = vehicle
        if !retiring {
            let next = vehicle.status.afterLift(openSuspensionsLeft: try await !SuspensionStore.openOnes(vehicle: vehicle.id, work).isEmpty)
            if next != vehicle.status { updated = try await VehicleStore.setStatus(vehicle.id, next, work) }
        }
        try await work.publish(VehicleEvents.suspensionLifted(lifted, vehicle: updated))
        return SuspensionOutcome(suspension: lifted, vehicle: updated)
    }
}
