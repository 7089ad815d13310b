import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC

extension FleetHandler {
    func addVehicleDocument(_ request: FleetV1.AddVehicleDocumentRequest, context: ServerCallContext) async throws -> FleetV1.AddVehicleDocumentResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let id = check.uuid(request.vehicleId, "vehicleId")
        let type = check.known(request.type, "type")
        let number = check.text(request.number, "number", maximumLength: 100)
        let issued = check.instant(request.issuedAt, "issuedAt")
        var expires: PostgresTimestamp?
        if request.expiresAt != nil || type != .other {
            let value = check.instant(request.expiresAt, "expiresAt")
            if request.expiresAt != nil, value <= issued { check.add("expiresAt", "OUT_OF_RANGE", "expiresAt must be later than issuedAt") }
            expires = value
        }
        let fileRef = check.text(request.fileRef, "fileRef", maximumLength: 1000, required: false)
        try check.finish()
        let expiresAt = expires
        return try await fleet.mutation(context, request) { work in
            let vehicle = try await FleetAccess.ownedVehicle(id, caller, work)
            try ExpectedVersion.check(request.expectedVersion, vehicle.version, "vehicle")
            try VehicleOperations.state(vehicle).checkEditable()
            let document = try await DocumentStore.insert(.init(
                vehicle: vehicle, type: type, number: number, issuedAt: issued, expiresAt: expiresAt, fileRef: fileRef, actor: work.actorID
            ), work)
            try await work.publish(EventDraft(
                "vehicle.document_added", aggregateType: "vehicle", aggregateID: vehicle.id,
                payload: .vehicleDocumentAdded(EventsV1.VehicleDocumentAdded(
                    documentId: document.id, vehicleId: document.vehicleId, organizationId: document.organizationId,
                    documentType: document.type.converted(), number: document.number, issuedAt: document.issuedAt, expiresAt: document.expiresAt
                ))
            ))
            return FleetV1.AddVehicleDocumentResponse(document: document)
        }
    }

    func listVehicleDocuments(_ request: FleetV1.ListVehicleDocumentsRequest, context: ServerCallContext) async throws -> FleetV1.ListVehicleDocumentsResponse {
        let (vehicleID, page, after) = try vehicleList(request.vehicleId, request.page)
        let caller = try context.requireCaller()
        if !request.type.isKnown {
            throw RPCError.invalidArgument([.init(field: "type", code: "UNKNOWN_VALUE", description: "type must be one of the documented values")])
        }
        return try await fleet.read(context) { work in
            try await ownedForReading(vehicleID, caller, work)
            let rows = try await DocumentStore.list(vehicle: vehicleID, type: request.type.storedName, after: after, limit: page.fetch, work)
            let (documents, next) = page.cut(rows) { [$0.createdAt?.cursorText ?? "0", $0.id] }
            return FleetV1.ListVehicleDocumentsResponse(documents: documents, page: next)
        }
    }

    func runDocumentExpirySweep(_ request: FleetV1.RunDocumentExpirySweepRequest, context: ServerCallContext) async throws -> FleetV1.RunDocumentExpirySweepResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let asOf = request.asOf.map { check.instant($0, "asOf") } ?? PostgresTimestamp(seconds: Int64(Date().timeIntervalSince1970))
        try check.finish()
        return try await fleet.sweep(request, owner: caller.actsAcrossTenants ? nil : caller.organizationID, asOf: asOf, context: context)
    }

    func searchAvailableVehicles(_ request: FleetV1.SearchAvailableVehiclesRequest, context: ServerCallContext) async throws -> FleetV1.SearchAvailableVehiclesResponse {
        let caller = try context.requireCaller()
        var check = Validation()
        let period = check.period(request.period, "period")
        let filters = request.filters ?? FleetV1.VehicleSearchFilters()
        let vendor = filters.vendorOrganizationId.flatMap { check.optionalUUID($0.value, "filters.vendorOrganizationId") }
        let make = filters.make.map { check.text($0.value, "filters.make", maximumLength: 100) }
        let model = filters.model.map { check.text($0.value, "filters.model", maximumLength: 100) }
        let yearMin = filters.yearMin.map { check.range($0.value, "filters.yearMin", 1900...2100) }
        let yearMax = filters.yearMax.map { check.range($0.value, "filters.yearMax", 1900...2100) }
        if !filters.ownershipType.isKnown {
            check.add("filters.ownershipType", "UNKNOWN_VALUE", "ownershipType must be one of the documented values")
        }
        try check.finish()
        let page = try Page(request.page, maximum: 100)
        // Corporate-owned listings a corporate sees are its own: say so, so the search walks only its fleet.
        let owner = filters.ownershipType == .corporateOwned && !caller.actsAcrossTenants ? caller.organizationID : vendor
        if filters.ownershipType == .corporateOwned, let vendor, vendor != owner {
            return FleetV1.SearchAvailableVehiclesResponse(page: CommonV1.PageResponse())  // a vendor owns no corporate vehicles
        }
        let query = SearchStore.Query(
            period: period, everything: caller.actsAcrossTenants, caller: caller.organizationID, vendor: owner, make: make, model: model,
            yearMin: yearMin, yearMax: yearMax, ownership: filters.ownershipType.storedName, after: try page.idCursor(), limit: page.fetch
        )
        return try await fleet.read(context) { work in
            let (vehicles, next) = page.cut(try await SearchStore.search(query, work)) { [$0.id] }
            return FleetV1.SearchAvailableVehiclesResponse(vehicles: vehicles, page: next)
        }
    }
}
