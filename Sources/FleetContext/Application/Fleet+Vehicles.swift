import Foundation
import KaroKarKernel

/// Vehicle verbs (DOMAIN.md section 5): registration, details, activation, retirement, and the
/// reads of one vehicle or a fleet.
extension Fleet {
    /// A `PENDING` vehicle of the caller's organization, which must be ACTIVE and of the kind the
    /// ownership type fits.
    nonisolated func registerVehicle(
        ownership: Ownership, _ details: VehicleDetails, _ invocation: Invocation
    ) async throws -> Vehicle {
        try await bus.mutation(invocation) { work in
            let owner = invocation.caller.organizationID
            guard let organization = try await VehicleStore.owner(owner, work), organization.isActive else { throw FleetError.ownerNotActive() }
            guard ownership.fits(organization.kind) else { throw FleetError.ownershipMismatch() }
            let vehicle = try await VehicleStore.insert(UUID.random(), owner: owner, ownership: ownership, details, work)
            try await work.publish(VehicleEvents.registered(vehicle))
            return vehicle
        }
    }

    /// One vehicle, as the caller may see it.
    nonisolated func vehicle(_ id: UUID, _ invocation: Invocation) async throws -> Vehicle {
        try await bus.read(invocation) { work in try await FleetAccess.visibleVehicle(id, invocation.caller, work) }
    }

    /// A page of an organization's fleet (the caller's; any, for platform administrators), by id.
    nonisolated func vehicles(
        of organization: UUID?, statuses: [VehicleState], page: Page<UUID>, _ invocation: Invocation
    ) async throws -> [Vehicle] {
        let owner = try FleetTenancy.listedOrganization(organization, invocation.caller)
        return try await bus.read(invocation) { work in
            try await VehicleStore.list(owner: owner, statuses: statuses, after: page.after, limit: page.fetchLimit, work)
        }
    }

    /// Replaces the details `change` has, until the vehicle retires.
    nonisolated func updateVehicleDetails(
        _ id: UUID, _ change: VehicleDetailsChange, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> Vehicle {
        try await changing(vehicle: id, expectedVersion: expectedVersion, invocation) { vehicle, work in
            try vehicle.status.checkEditable()
            let updated = try await VehicleStore.updateDetails(id, change.applied(to: vehicle.details), work)
            try await work.publish(VehicleEvents.detailsUpdated(updated))
            return updated
        }
    }

    /// `PENDING -> ACTIVE`, with an ACTIVE owner (and, when configured, verified documents).
    nonisolated func activateVehicle(_ id: UUID, expectedVersion: Int64?, _ invocation: Invocation) async throws -> Vehicle {
        try await changing(vehicle: id, expectedVersion: expectedVersion, invocation) { vehicle, work in
            let next = try vehicle.status.activated()
            guard let owner = try await VehicleStore.owner(vehicle.organizationID, work), owner.isActive else {
                throw FleetError.ownerNotActive()
            }
            if options.activationRequiresVerification {
                guard try await VerificationStore.gateOpen(vehicle: id, at: environment.clock.now(), work) else {
                    throw FleetError.verificationRequired()
                }
            }
            let activated = try await VehicleStore.setStatus(id, next, work)
            try await work.publish(VehicleEvents.activated(activated))
            return activated
        }
    }

    /// Any -> `RETIRED`, refused while a booking or assignment holds the vehicle; open
    /// maintenance is cancelled, blocks removed and suspensions lifted on the way out.
    nonisolated func retireVehicle(_ id: UUID, reason: String?, expectedVersion: Int64?, _ invocation: Invocation) async throws -> Vehicle {
        try await changing(vehicle: id, expectedVersion: expectedVersion, invocation) { vehicle, work in
            let next = try vehicle.status.retired()
            let everything = Period.from(Instant.storable.lowerBound)
            for source in [HoldSource.booking, .assignment] where try await !AvailabilityStore.overlappingSources(id, everything, source, work).isEmpty {
                throw FleetError.vehicleInUse()
            }
            try await closeEverything(on: vehicle, work)
            let retired = try await VehicleStore.setStatus(id, next, work)
            try await work.publish(VehicleEvents.retired(retired, previous: vehicle.status, reason: reason))
            return retired
        }
    }

    /// Cancels open maintenance, removes blocks in force and lifts open suspensions (with events).
    private nonisolated func closeEverything(on vehicle: Vehicle, _ work: UnitOfWork) async throws {
        let open = MaintenanceFilter(vehicle: vehicle.id, statuses: [.scheduled, .inProgress])
        for record in try await MaintenanceStore.list(open, owner: nil, after: nil, limit: 10_000, work) {
            _ = try await moveMaintenance(record, .cancel(reason: "vehicle retired"), work)
        }
        for block in try await BlockStore.list(vehicle: vehicle.id, includeRemoved: false, after: nil, limit: 10_000, work) {
            _ = try await removeBlock(block, work)
        }
        for suspension in try await SuspensionStore.openOnes(vehicle: vehicle.id, work) {
            _ = try await lift(suspension, of: vehicle, notes: "vehicle retired", retiring: true, work)
        }
    }
}
