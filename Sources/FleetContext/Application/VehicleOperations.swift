import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres

/// Vehicle verbs inside a unit of work: the rules of ``VehicleState`` applied to rows, with their
/// events. Called by the ``Fleet`` actor (RPCs) and by in-transaction reactions.
enum VehicleOperations {
    static func register(_ new: VehicleStore.NewVehicle, _ work: UnitOfWork) async throws -> FleetV1.Vehicle {
        guard let owner = try await VehicleStore.owner(new.owner, work), owner.isActive else { throw FleetError.ownerNotActive() }
        guard new.ownership.fits(owner.kind) else { throw FleetError.ownershipMismatch() }
        let vehicle = try await VehicleStore.insert(new, work)
        try await work.publish(EventDraft(
            "vehicle.registered", aggregateType: "vehicle", aggregateID: vehicle.id, aggregateVersion: vehicle.version,
            payload: .vehicleRegistered(EventsV1.VehicleRegistered(
                vehicleId: vehicle.id, organizationId: vehicle.organizationId, ownershipType: vehicle.ownershipType.converted(),
                make: vehicle.make, model: vehicle.model, year: vehicle.year, licensePlate: vehicle.licensePlate
            ))
        ))
        return vehicle
    }

    struct DetailsChange: Sendable {
        var make: String?
        var model: String?
        var year: Int32?
        var plate: String?
    }

    static func updateDetails(_ vehicle: FleetV1.Vehicle, _ change: DetailsChange, _ work: UnitOfWork) async throws -> FleetV1.Vehicle {
        try state(vehicle).checkEditable()
        let updated = try await VehicleStore.updateDetails(
            UUID(hyphenated: vehicle.id)!, make: change.make ?? vehicle.make, model: change.model ?? vehicle.model,
            year: change.year ?? vehicle.year, plate: change.plate ?? vehicle.licensePlate, work
        )
        try await work.publish(EventDraft(
            "vehicle.details_updated", aggregateType: "vehicle", aggregateID: updated.id, aggregateVersion: updated.version,
            payload: .vehicleDetailsUpdated(EventsV1.VehicleDetailsUpdated(
                vehicleId: updated.id, organizationId: updated.organizationId, make: updated.make, model: updated.model,
                year: updated.year, licensePlate: updated.licensePlate
            ))
        ))
        return updated
    }

    /// `PENDING -> ACTIVE`, with an ACTIVE owner (and, when configured, verified documents).
    static func activate(_ vehicle: FleetV1.Vehicle, options: FleetOptions, _ work: UnitOfWork) async throws -> FleetV1.Vehicle {
        let next = try state(vehicle).activated()
        guard let owner = try await VehicleStore.owner(UUID(hyphenated: vehicle.organizationId)!, work), owner.isActive else {
            throw FleetError.ownerNotActive()
        }
        if options.activationRequiresVerification {
            let now = PostgresTimestamp(seconds: Int64(Date().timeIntervalSince1970))
            guard try await VerificationStore.gateOpen(vehicle: UUID(hyphenated: vehicle.id)!, at: now, work) else {
                throw FleetError.verificationRequired()
            }
        }
        let activated = try await VehicleStore.setStatus(UUID(hyphenated: vehicle.id)!, next, work)
        try await work.publish(EventDraft(
            "vehicle.activated", aggregateType: "vehicle", aggregateID: activated.id, aggregateVersion: activated.version,
            payload: .vehicleActivated(EventsV1.VehicleActivated(vehicleId: activated.id, organizationId: activated.organizationId))
        ))
        return activated
    }

    /// Any -> `RETIRED`, refused while a booking or assignment holds the vehicle; open
    /// maintenance is cancelled, blocks removed and suspensions lifted on the way out.
    static func retire(_ vehicle: FleetV1.Vehicle, reason: String?, _ work: UnitOfWork) async throws -> FleetV1.Vehicle {
        let next = try state(vehicle).retired()
        let id = UUID(hyphenated: vehicle.id)!
        let everything = PostgresTimestampRange(lower: PostgresTimestamp(seconds: -2_208_988_800), upper: nil)
        for source in [HoldSource.booking, .assignment] where try await !AvailabilityStore.overlappingSources(id, everything, source, work).isEmpty {
            throw FleetError.vehicleInUse()
        }
        try await HoldOperations.closeEverything(on: vehicle, work)
        let retired = try await VehicleStore.setStatus(id, next, work)
        try await work.publish(EventDraft(
            "vehicle.retired", aggregateType: "vehicle", aggregateID: retired.id, aggregateVersion: retired.version,
            payload: .vehicleRetired(EventsV1.VehicleRetired(
                vehicleId: retired.id, organizationId: retired.organizationId, previousStatus: vehicle.status.converted(),
                reason: reason.map { CommonV1.StringValue(value: $0) }
            ))
        ))
        return retired
    }

    static func state(_ vehicle: FleetV1.Vehicle) -> VehicleState {
        VehicleState(rawValue: vehicle.status.storedName ?? "") ?? .retired
    }
}

/// Fleet's settings (from the server's configuration).
public struct FleetOptions: Sendable {
    /// DOMAIN.md: activation needs approved, unexpired verifications of the vehicle's registration,
    /// insurance and fitness certificate (Fleet learns them from `verification.*` events). Off
    /// until the Verification context ships (issue 5, item 1).
    public var activationRequiresVerification = false
    /// How often the document expiry sweep runs; nil: never by itself.
    public var documentSweepInterval: Duration? = .seconds(24 * 3600)

    public init() {}
}
