import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import KaroKarServices

/// `karokar.fleet.v1.FleetService`: validates each request (INVALID_ARGUMENT with every field
/// violation, before anything is written), parses it once into domain values, calls the
/// ``Fleet`` use case, maps the result to the response. Permissions are checked by the
/// authorization interceptor from the access rules in the protos; tenancy by the use cases.
/// Split by concern into `FleetHandler+*.swift`.
struct FleetHandler: FleetV1.FleetService.Handler {
    let fleet: Fleet

    var pages: PageTokens { fleet.environment.pages }

    func registerVehicle(_ request: FleetV1.RegisterVehicleRequest, context: ServerCallContext) async throws -> FleetV1.RegisterVehicleResponse {
        var check = Validation()
        let ownership = check.known(request.ownershipType, "ownershipType", as: Ownership.self)
        let change = check.vehicleDetails(make: request.make, model: request.model, year: request.year, plate: request.licensePlate)
        try check.finish()
        // Every field was given, so nothing of the blank details below is kept.
        let details = change.applied(to: VehicleDetails(make: "", model: "", year: 0, plate: ""))
        let vehicle = try await fleet.registerVehicle(ownership: ownership, details, Invocation(context, fingerprint: request))
        return FleetV1.RegisterVehicleResponse(vehicle: vehicle.message)
    }

    func getVehicle(_ request: FleetV1.GetVehicleRequest, context: ServerCallContext) async throws -> FleetV1.GetVehicleResponse {
        var check = Validation()
        let id = check.uuid(request.vehicleId, "vehicleId")
        try check.finish()
        let vehicle = try await fleet.vehicle(id, Invocation(context, fingerprint: request))
        return FleetV1.GetVehicleResponse(vehicle: vehicle.message)
    }

    func listFleet(_ request: FleetV1.ListFleetRequest, context: ServerCallContext) async throws -> FleetV1.ListFleetResponse {
        var check = Validation()
        let organization = check.optionalUUID(request.organizationId, "organizationId")
        let statuses = request.statuses.enumerated().map { check.known($0.element, "statuses[\($0.offset)]", as: VehicleState.self) }
        try check.finish()
        let page = try Page<UUID>(request.page, list: "fleet.vehicles", tokens: pages, maximum: 200)
        let rows = try await fleet.vehicles(of: organization, statuses: statuses, page: page, Invocation(context, fingerprint: request))
        let (vehicles, next) = page.cut(rows) { $0.id }
        return FleetV1.ListFleetResponse(vehicles: vehicles.map(\.message), page: next)
    }

    func updateVehicleDetails(
        _ request: FleetV1.UpdateVehicleDetailsRequest, context: ServerCallContext
    ) async throws -> FleetV1.UpdateVehicleDetailsResponse {
        var check = Validation()
        let id = check.uuid(request.vehicleId, "vehicleId")
        let change = check.vehicleDetails(
            make: request.make?.value, model: request.model?.value, year: request.year?.value, plate: request.licensePlate?.value
        )
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let vehicle = try await fleet.updateVehicleDetails(id, change, expectedVersion: version, Invocation(context, fingerprint: request))
        return FleetV1.UpdateVehicleDetailsResponse(vehicle: vehicle.message)
    }

    func activateVehicle(_ request: FleetV1.ActivateVehicleRequest, context: ServerCallContext) async throws -> FleetV1.ActivateVehicleResponse {
        var check = Validation()
        let id = check.uuid(request.vehicleId, "vehicleId")
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let vehicle = try await fleet.activateVehicle(id, expectedVersion: version, Invocation(context, fingerprint: request))
        return FleetV1.ActivateVehicleResponse(vehicle: vehicle.message)
    }

    func retireVehicle(_ request: FleetV1.RetireVehicleRequest, context: ServerCallContext) async throws -> FleetV1.RetireVehicleResponse {
        var check = Validation()
        let id = check.uuid(request.vehicleId, "vehicleId")
        let reason = check.optionalText(request.reason, "reason", maximumLength: 500)
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let vehicle = try await fleet.retireVehicle(id, reason: reason, expectedVersion: version, Invocation(context, fingerprint: request))
        return FleetV1.RetireVehicleResponse(vehicle: vehicle.message)
    }
}
