import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC

/// Vehicle documents, the expiry sweep and the marketplace search.
extension FleetHandler {
    func addVehicleDocument(
        _ request: FleetV1.AddVehicleDocumentRequest, context: ServerCallContext
    ) async throws -> FleetV1.AddVehicleDocumentResponse {
        var check = Validation()
        let vehicle = check.uuid(request.vehicleId, "vehicleId")
        let type = check.known(request.type, "type", as: DocumentType.self)
        let number = check.text(request.number, "number", maximumLength: 100)
        let issued = check.instant(request.issuedAt, "issuedAt")
        var expires: Instant?
        if request.expiresAt != nil || type != .other {
            let value = check.instant(request.expiresAt, "expiresAt")
            if request.expiresAt != nil, value <= issued { check.add("expiresAt", "OUT_OF_RANGE", "expiresAt must be later than issuedAt") }
            expires = value
        }
        let fileRef = check.text(request.fileRef, "fileRef", maximumLength: 1000, required: false)
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let new = NewDocument(vehicle: vehicle, type: type, number: number, issuedAt: issued, expiresAt: expires, fileRef: fileRef)
        let document = try await fleet.addVehicleDocument(new, expectedVersion: version, Invocation(context, fingerprint: request))
        return FleetV1.AddVehicleDocumentResponse(document: document.message)
    }

    func listVehicleDocuments(
        _ request: FleetV1.ListVehicleDocumentsRequest, context: ServerCallContext
    ) async throws -> FleetV1.ListVehicleDocumentsResponse {
        let (vehicle, page) = try vehicleHistoryPage(request.vehicleId, request.page, list: "fleet.documents")
        if !request.type.isKnown {
            throw RPCError.invalidArgument([.init(field: "type", code: "UNKNOWN_VALUE", description: "type must be one of the documented values")])
        }
        let type = DocumentType(rawValue: request.type.storedName ?? "")  // nil: every type
        let rows = try await fleet.documents(of: vehicle, type: type, page: page, Invocation(context, fingerprint: request))
        let (documents, next) = page.cut(rows) { TimeKey($0.createdAt, $0.id) }
        return FleetV1.ListVehicleDocumentsResponse(documents: documents.map(\.message), page: next)
    }

    func runDocumentExpirySweep(
        _ request: FleetV1.RunDocumentExpirySweepRequest, context: ServerCallContext
    ) async throws -> FleetV1.RunDocumentExpirySweepResponse {
        var check = Validation()
        let asOf = request.asOf.map { check.instant($0, "asOf") }
        try check.finish()
        return try await fleet.runDocumentExpirySweep(asOf: asOf, dryRun: request.dryRun, Invocation(context, fingerprint: request)).message
    }

    func searchAvailableVehicles(
        _ request: FleetV1.SearchAvailableVehiclesRequest, context: ServerCallContext
    ) async throws -> FleetV1.SearchAvailableVehiclesResponse {
        var check = Validation()
        var search = VehicleSearch(period: check.period(request.period, "period"))
        Self.filters(request.filters, into: &search, &check)
        try check.finish()
        let page = try Page<UUID>(request.page, list: "fleet.search", tokens: pages, maximum: 100)
        let rows = try await fleet.searchAvailableVehicles(search, page: page, Invocation(context, fingerprint: request))
        let (vehicles, next) = page.cut(rows) { $0.id }
        return FleetV1.SearchAvailableVehiclesResponse(vehicles: vehicles.map(\.message), page: next)
    }

    func searchFlexibleStart(
        _ request: FleetV1.SearchFlexibleStartRequest, context: ServerCallContext
    ) async throws -> FleetV1.SearchFlexibleStartResponse {
        var check = Validation()
        let earliest = check.instant(request.earliestStart, "earliestStart")
        let latest = check.instant(request.latestStart, "latestStart")
        if latest < earliest {
            check.add("latestStart", "OUT_OF_RANGE", "latestStart must not be before earliestStart")
        } else if latest.microseconds - earliest.microseconds > Self.maximumStartRange {
            check.add("latestStart", "OUT_OF_RANGE", "latestStart must be at most 366 days after earliestStart")
        }
        if !(1...527_040).contains(request.durationMinutes) {
            check.add("durationMinutes", "OUT_OF_RANGE", "durationMinutes must be between 1 and 527040 (366 days)")
        }
        var search = VehicleSearch(stretch: FreeStretch(
            earliestStart: earliest, latestStart: latest, length: Int64(request.durationMinutes) * 60_000_000
        ))
        Self.filters(request.filters, into: &search, &check)
        try check.finish()
        let page = try Page<UUID>(request.page, list: "fleet.search-flexible", tokens: pages, maximum: 100)
        let rows = try await fleet.searchFlexibleStart(search, page: page, Invocation(context, fingerprint: request))
        let (matches, next) = page.cut(rows) { $0.vehicle.id }
        return FleetV1.SearchFlexibleStartResponse(
            matches: matches.map { FleetV1.FlexibleStartMatch(vehicle: $0.vehicle.message, earliestStart: $0.start.timestamp) }, page: next
        )
    }

    /// 366 days, in microseconds: how far apart a flexible search's earliest and latest starts may be.
    static let maximumStartRange: Int64 = 366 * 86_400 * 1_000_000

    /// The search filters, validated, into `search`.
    static func filters(_ request: FleetV1.VehicleSearchFilters?, into search: inout VehicleSearch, _ check: inout Validation) {
        let filters = request ?? FleetV1.VehicleSearchFilters()
        search.vendor = filters.vendorOrganizationId.flatMap { check.optionalUUID($0.value, "filters.vendorOrganizationId") }
        search.make = filters.make.map { check.text($0.value, "filters.make", maximumLength: 100) }
        search.model = filters.model.map { check.text($0.value, "filters.model", maximumLength: 100) }
        search.yearMin = filters.yearMin.map { check.range($0.value, "filters.yearMin", 1900...2100) }
        search.yearMax = filters.yearMax.map { check.range($0.value, "filters.yearMax", 1900...2100) }
        if !filters.ownershipType.isKnown {
            check.add("filters.ownershipType", "UNKNOWN_VALUE", "ownershipType must be one of the documented values")
        }
        search.ownership = Ownership(rawValue: filters.ownershipType.storedName ?? "")  // nil: either
    }
}
