import KaroKarMessages
import KaroKarRPC
import KaroKarServices

/// The mix's steps, each as the actor who makes that call in a real marketplace: corporates
/// search and check availability, owners read their fleets and timelines and place holds.
extension MarketplaceScenario {
    /// A corporate looks for a free vehicle over a random period of up to a week, filtered like
    /// a vehicle that exists (so most searches find something), one page of 20.
    static func search(_ data: MarketplaceData) -> ScenarioStep {
        ScenarioStep(name: "search", path: Fleet.Method.searchAvailableVehicles.path) { context, random in
            let corporate: MarketplaceActor = try pick("corporates", context, &random)
            let request = FleetV1.SearchAvailableVehiclesRequest(
                period: data.randomPeriod(maximumHours: 7 * 24, using: &random), filters: try searchFilters(context, &random),
                page: CommonV1.PageRequest(pageSize: 20)
            )
            let found = try await Fleet.Client(context.client).searchAvailableVehicles(request, options: context.options(as: corporate)).vehicles.count
            context.world.tally("search.vehicles-found", found)
            if found == 0 { context.world.tally("search.empty") }
        }
    }

    /// None (3 in 10), make (2), make and model (2), a year range, one vendor, vendor-owned only.
    private static func searchFilters(_ context: ScenarioContext, _ random: inout BenchRandom) throws -> FleetV1.VehicleSearchFilters {
        let example: MarketplaceVehicle = try pick("vehicles", context, &random)
        switch Int.random(in: 0..<10, using: &random) {
        case 0..<3: return FleetV1.VehicleSearchFilters()
        case 3..<5: return FleetV1.VehicleSearchFilters(make: CommonV1.StringValue(value: example.make))
        case 5..<7: return FleetV1.VehicleSearchFilters(make: CommonV1.StringValue(value: example.make), model: CommonV1.StringValue(value: example.model))
        case 7: return FleetV1.VehicleSearchFilters(yearMin: CommonV1.Int32Value(value: example.year - 1), yearMax: CommonV1.Int32Value(value: example.year + 1))
        case 8: return FleetV1.VehicleSearchFilters(vendorOrganizationId: CommonV1.StringValue(value: example.owner.organizationID))
        default: return FleetV1.VehicleSearchFilters(ownershipType: .vendorOwned)
        }
    }

    /// A corporate asks about one listing it found.
    static func checkAvailability(_ data: MarketplaceData) -> ScenarioStep {
        ScenarioStep(name: "check-availability", path: FleetV1.AvailabilityService.Method.checkAvailability.path) { context, random in
            let corporate: MarketplaceActor = try pick("corporates", context, &random)
            let vehicle: MarketplaceVehicle = try pick("vehicles", context, &random)
            let period = data.randomPeriod(maximumHours: 7 * 24, using: &random)
            let response = try await FleetV1.AvailabilityService.Client(context.client).checkAvailability(
                FleetV1.CheckAvailabilityRequest(vehicleId: vehicle.id, period: CommonV1.OpenPeriod(start: period.start, end: period.end)),
                options: context.options(as: corporate)
            )
            context.world.tally(response.available ? "check-availability.free" : "check-availability.taken")
        }
    }

    /// Half the time its owner, half a corporate reading the listing.
    static let getVehicle = ScenarioStep(name: "get-vehicle", path: Fleet.Method.getVehicle.path) { context, random in
        let vehicle: MarketplaceVehicle = try pick("vehicles", context, &random)
        let reader: MarketplaceActor = Bool.random(using: &random) ? vehicle.owner : try pick("corporates", context, &random)
        let response = try await Fleet.Client(context.client).getVehicle(FleetV1.GetVehicleRequest(vehicleId: vehicle.id), options: context.options(as: reader))
        guard response.vehicle?.id == vehicle.id else { throw RPCError(.dataLoss, "GetVehicle answered another vehicle") }
    }

    /// An owner's calendar view: two weeks of one vehicle's open records.
    static func vehicleTimeline(_ data: MarketplaceData) -> ScenarioStep {
        ScenarioStep(name: "vehicle-timeline", path: FleetV1.AvailabilityService.Method.getVehicleTimeline.path) { context, random in
            let vehicle: MarketplaceVehicle = try pick("vehicles", context, &random)
            let window = data.period(startHour: Int64.random(in: 0...(MarketplaceData.horizonDays - 14), using: &random) * 24, hours: 14 * 24)
            let response = try await FleetV1.AvailabilityService.Client(context.client).getVehicleTimeline(
                FleetV1.GetVehicleTimelineRequest(vehicleId: vehicle.id, period: window), options: context.options(as: vehicle.owner)
            )
            context.world.tally("vehicle-timeline.records", response.records.count)
        }
    }

    /// A vendor's first page of its own fleet.
    static let listFleet = ScenarioStep(name: "list-fleet", path: Fleet.Method.listFleet.path) { context, random in
        let vendor: MarketplaceActor = try pick("vendors", context, &random)
        let response = try await Fleet.Client(context.client).listFleet(FleetV1.ListFleetRequest(page: CommonV1.PageRequest(pageSize: 50)), options: context.options(as: vendor))
        guard response.vehicles.allSatisfy({ $0.organizationId == vendor.organizationID }) else {
            throw RPCError(.dataLoss, "ListFleet answered another organization's vehicle")
        }
    }

    /// What every client does first with a token: any vendor or corporate.
    static let whoAmI = ScenarioStep(name: "who-am-i", path: Identity.Method.whoAmI.path) { context, random in
        let actor: MarketplaceActor = try pick(Bool.random(using: &random) ? "vendors" : "corporates", context, &random)
        let response = try await Identity.Client(context.client).whoAmI(IdentityV1.WhoAmIRequest(), options: context.options(as: actor))
        guard response.membership?.organizationId == actor.organizationID else { throw RPCError(.dataLoss, "WhoAmI answered another organization") }
    }

    // MARK: - Holds, withdrawn by their follow-up

    /// Up to three days anywhere in the horizon: refused `VEHICLE_NOT_AVAILABLE` when it meets
    /// setup's holds or another worker's; the follow-up cancels it.
    static func scheduleMaintenance(_ data: MarketplaceData) -> ScenarioStep {
        ScenarioStep(
            name: "schedule-maintenance", path: Fleet.Method.scheduleMaintenance.path, followedBy: [Fleet.Method.cancelMaintenance.path],
            expecting: notAvailable
        ) { context, random in
            let vehicle: MarketplaceVehicle = try pick("vehicles", context, &random)
            let response = try await Fleet.Client(context.client).scheduleMaintenance(
                FleetV1.ScheduleMaintenanceRequest(vehicleId: vehicle.id, period: data.randomPeriod(maximumHours: 72, using: &random), reason: "inspection"),
                options: context.options(as: vehicle.owner)
            )
            guard let id = response.maintenance?.id else { throw RPCError(.internal, "ScheduleMaintenance answered without the record") }
            return cancelMaintenance(id, vehicle.owner)
        }
    }

    static func cancelMaintenance(_ id: String, _ owner: MarketplaceActor) -> ScenarioStep {
        ScenarioStep(name: "cancel-maintenance", path: Fleet.Method.cancelMaintenance.path) { context, _ in
            _ = try await Fleet.Client(context.client).cancelMaintenance(
                FleetV1.CancelMaintenanceRequest(maintenanceId: id, reason: CommonV1.StringValue(value: "no longer needed")), options: context.options(as: owner)
            )
        }
    }

    /// Up to a week anywhere in the horizon, like maintenance; the follow-up removes it.
    static func placeBlock(_ data: MarketplaceData) -> ScenarioStep {
        ScenarioStep(
            name: "place-block", path: Fleet.Method.placeBlock.path, followedBy: [Fleet.Method.removeBlock.path], expecting: notAvailable
        ) { context, random in
            let vehicle: MarketplaceVehicle = try pick("vehicles", context, &random)
            let response = try await Fleet.Client(context.client).placeBlock(
                FleetV1.PlaceBlockRequest(vehicleId: vehicle.id, period: data.randomPeriod(maximumHours: 7 * 24, using: &random), reason: "owner's own use"),
                options: context.options(as: vehicle.owner)
            )
            guard let id = response.block?.id else { throw RPCError(.internal, "PlaceBlock answered without the block") }
            return removeBlock(id, vehicle.owner)
        }
    }

    static func removeBlock(_ id: String, _ owner: MarketplaceActor) -> ScenarioStep {
        ScenarioStep(name: "remove-block", path: Fleet.Method.removeBlock.path) { context, _ in
            _ = try await Fleet.Client(context.client).removeBlock(FleetV1.RemoveBlockRequest(blockId: id), options: context.options(as: owner))
        }
    }
}
