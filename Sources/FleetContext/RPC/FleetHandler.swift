import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServices

/// `karokar.fleet.v1.FleetService`: validates each request (INVALID_ARGUMENT with every field
/// violation, before anything is written), then runs the verb through the ``Fleet`` actor.
/// Permissions are checked by the authorization interceptor from the access table; tenancy here.
struct FleetHandler: FleetV1.FleetService.Handler {
    let fleet: Fleet

    func registerVehicle(_ request: FleetV1.RegisterVehicleRequest, context: ServerCallContext) async throws -> FleetV1.RegisterVehicleResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let ownership = check.known(request.ownershipType, "ownershipType")
        let details = VehicleDetails.validate(make: request.make, model: request.model, year: request.year, plate: request.licensePlate, &check)
        try check.finish()
        let vehicle = VehicleStore.NewVehicle(
            id: UUID.random(), owner: caller.organizationID, ownership: ownership == .vendorOwned ? .vendorOwned : .corporateOwned,
            make: details.make!, model: details.model!, year: details.year!, plate: details.plate!
        )
        return try await fleet.mutation(context, request) { work in
            FleetV1.RegisterVehicleResponse(vehicle: try await VehicleOperations.register(vehicle, work))
        }
    }

    func getVehicle(_ request: FleetV1.GetVehicleRequest, context: ServerCallContext) async throws -> FleetV1.GetVehicleResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.vehicleId, "vehicleId")
        try check.finish()
        return try await fleet.read(context) { work in
            FleetV1.GetVehicleResponse(vehicle: try await FleetAccess.visibleVehicle(id, caller, work))
        }
    }

    func listFleet(_ request: FleetV1.ListFleetRequest, context: ServerCallContext) async throws -> FleetV1.ListFleetResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let requested = check.optionalUUID(request.organizationId, "organizationId")
        let statuses = request.statuses.enumerated().map { check.known($0.element, "statuses[\($0.offset)]").storedName ?? "" }
        try check.finish()
        let page = try Page(request.page)
        let owner = try FleetAccess.listedOrganization(requested, caller)
        let after = try page.idCursor()
        return try await fleet.read(context) { work in
            let (vehicles, next) = page.cut(try await VehicleStore.list(owner: owner, statuses: statuses, after: after, limit: page.fetch, work)) { [$0.id] }
            return FleetV1.ListFleetResponse(vehicles: vehicles, page: next)
        }
    }

    func updateVehicleDetails(_ request: FleetV1.UpdateVehicleDetailsRequest, context: ServerCallContext) async throws -> FleetV1.UpdateVehicleDetailsResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.vehicleId, "vehicleId")
        let details = VehicleDetails.validate(
            make: request.make?.value, model: request.model?.value, year: request.year?.value, plate: request.licensePlate?.value, &check
        )
        try check.finish()
        let change = VehicleOperations.DetailsChange(make: details.make, model: details.model, year: details.year, plate: details.plate)
        return try await fleet.mutation(context, request) { work in
            let vehicle = try await FleetAccess.ownedVehicle(id, caller, work)
            try ExpectedVersion.check(request.expectedVersion, vehicle.version, "vehicle")
            return FleetV1.UpdateVehicleDetailsResponse(vehicle: try await VehicleOperations.updateDetails(vehicle, change, work))
        }
    }

    func activateVehicle(_ request: FleetV1.ActivateVehicleRequest, context: ServerCallContext) async throws -> FleetV1.ActivateVehicleResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.vehicleId, "vehicleId")
        try check.finish()
        let options = fleet.options
        return try await fleet.mutation(context, request) { work in
            let vehicle = try await FleetAccess.ownedVehicle(id, caller, work)
            try ExpectedVersion.check(request.expectedVersion, vehicle.version, "vehicle")
            return FleetV1.ActivateVehicleResponse(vehicle: try await VehicleOperations.activate(vehicle, options: options, work))
        }
    }

    func retireVehicle(_ request: FleetV1.RetireVehicleRequest, context: ServerCallContext) async throws -> FleetV1.RetireVehicleResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.vehicleId, "vehicleId")
        let reason = request.reason.map { check.text($0.value, "reason", maximumLength: 500, required: false) }
        try check.finish()
        return try await fleet.mutation(context, request) { work in
            let vehicle = try await FleetAccess.ownedVehicle(id, caller, work)
            try ExpectedVersion.check(request.expectedVersion, vehicle.version, "vehicle")
            return FleetV1.RetireVehicleResponse(vehicle: try await VehicleOperations.retire(vehicle, reason: reason, work))
        }
    }
}

/// Make, model, year and plate, each validated when present (all are required to register).
struct VehicleDetails {
    var make: String?
    var model: String?
    var year: Int32?
    var plate: String?

    static func validate(make: String?, model: String?, year: Int32?, plate: String?, _ check: inout Validation) -> VehicleDetails {
        var details = VehicleDetails()
        details.make = make.map { check.text($0, "make", maximumLength: 100) }
        details.model = model.map { check.text($0, "model", maximumLength: 100) }
        details.year = year.map { check.range($0, "year", 1900...2100) }
        if let plate {
            details.plate = LicensePlate.normalized(plate)
            if details.plate == nil {
                check.add("licensePlate", plate.isEmpty ? "REQUIRED" : "MALFORMED", "licensePlate must be 1 to 20 letters, digits or dashes")
            }
        }
        return details
    }
}
