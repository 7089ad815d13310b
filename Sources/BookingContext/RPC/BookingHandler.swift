import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarRPC
import KaroKarServices

/// `karokar.booking.v1.BookingService`: validates each request (INVALID_ARGUMENT with every field
/// violation, before anything is written), parses it once into domain values, calls the
/// ``Booking`` use case and maps the result. Permissions are checked by the authorization
/// interceptor from the access rules in the protos; tenancy by the use cases.
struct BookingHandler: BookingV1.BookingService.Handler {
    let booking: Booking

    var pages: PageTokens { booking.environment.pages }

    func createBooking(_ request: BookingV1.CreateBookingRequest, context: ServerCallContext) async throws -> BookingV1.CreateBookingResponse {
        var check = Validation()
        let draft = BookingDraft(
            vehicleID: check.uuid(request.vehicleId, "vehicleId"), period: check.period(request.period, "period"),
            notes: check.optionalText(request.notes, "notes.value", maximumLength: 2000)
        )
        try check.finish()
        let created = try await booking.createBooking(draft, Invocation(context, fingerprint: request))
        return BookingV1.CreateBookingResponse(booking: created.message)
    }

    func submitBooking(_ request: BookingV1.SubmitBookingRequest, context: ServerCallContext) async throws -> BookingV1.SubmitBookingResponse {
        let (id, version) = try parse(request.bookingId, request.expectedVersion)
        let saved = try await booking.submitBooking(id, expectedVersion: version, Invocation(context, fingerprint: request))
        return BookingV1.SubmitBookingResponse(booking: saved.message)
    }

    func approveBooking(_ request: BookingV1.ApproveBookingRequest, context: ServerCallContext) async throws -> BookingV1.ApproveBookingResponse {
        var check = Validation()
        let id = check.uuid(request.bookingId, "bookingId")
        let notes = check.optionalText(request.notes, "notes.value", maximumLength: 2000)
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let saved = try await booking.approveBooking(id, notes: notes, expectedVersion: version, Invocation(context, fingerprint: request))
        return BookingV1.ApproveBookingResponse(booking: saved.message)
    }

    func rejectBooking(_ request: BookingV1.RejectBookingRequest, context: ServerCallContext) async throws -> BookingV1.RejectBookingResponse {
        var check = Validation()
        let id = check.uuid(request.bookingId, "bookingId")
        let reason = check.text(request.reason, "reason", maximumLength: 2000)
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let saved = try await booking.rejectBooking(id, reason: reason, expectedVersion: version, Invocation(context, fingerprint: request))
        return BookingV1.RejectBookingResponse(booking: saved.message)
    }

    func assignBooking(_ request: BookingV1.AssignBookingRequest, context: ServerCallContext) async throws -> BookingV1.AssignBookingResponse {
        var check = Validation()
        let id = check.uuid(request.bookingId, "bookingId")
        let employee = check.uuid(request.employeeId, "employeeId")
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let assigned = try await booking.assignBooking(id, employee: employee, expectedVersion: version, Invocation(context, fingerprint: request))
        return BookingV1.AssignBookingResponse(booking: assigned.booking.message, assignmentId: assigned.assignmentID.lowercasedString)
    }

    func activateBooking(_ request: BookingV1.ActivateBookingRequest, context: ServerCallContext) async throws -> BookingV1.ActivateBookingResponse {
        var check = Validation()
        let id = check.uuid(request.bookingId, "bookingId")
        let evidence = check.reading(request.evidence, "evidence")
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let saved = try await booking.activateBooking(id, evidence: evidence, expectedVersion: version, Invocation(context, fingerprint: request))
        return BookingV1.ActivateBookingResponse(booking: saved.message)
    }

    func completeBooking(_ request: BookingV1.CompleteBookingRequest, context: ServerCallContext) async throws -> BookingV1.CompleteBookingResponse {
        var check = Validation()
        let id = check.uuid(request.bookingId, "bookingId")
        let evidence = check.reading(request.evidence, "evidence")
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let saved = try await booking.completeBooking(id, evidence: evidence, expectedVersion: version, Invocation(context, fingerprint: request))
        return BookingV1.CompleteBookingResponse(booking: saved.message)
    }

    func terminateBooking(
        _ request: BookingV1.TerminateBookingRequest, context: ServerCallContext
    ) async throws -> BookingV1.TerminateBookingResponse {
        var check = Validation()
        let id = check.uuid(request.bookingId, "bookingId")
        let reason = check.known(request.reason, "reason", as: TerminationReason.self)
        let notes = check.optionalText(request.notes, "notes.value", maximumLength: 2000)
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let saved = try await booking.terminateBooking(
            id, reason: reason, notes: notes, expectedVersion: version, Invocation(context, fingerprint: request)
        )
        return BookingV1.TerminateBookingResponse(booking: saved.message)
    }

    func cancelBooking(_ request: BookingV1.CancelBookingRequest, context: ServerCallContext) async throws -> BookingV1.CancelBookingResponse {
        var check = Validation()
        let id = check.uuid(request.bookingId, "bookingId")
        let reason = check.optionalText(request.reason, "reason.value", maximumLength: 2000)
        let version = check.expectedVersion(request.expectedVersion)
        try check.finish()
        let saved = try await booking.cancelBooking(id, reason: reason, expectedVersion: version, Invocation(context, fingerprint: request))
        return BookingV1.CancelBookingResponse(booking: saved.message)
    }

    func getBooking(_ request: BookingV1.GetBookingRequest, context: ServerCallContext) async throws -> BookingV1.GetBookingResponse {
        var check = Validation()
        let id = check.uuid(request.bookingId, "bookingId")
        try check.finish()
        return BookingV1.GetBookingResponse(booking: try await booking.booking(id, Invocation(context, fingerprint: request)).message)
    }

    func listCorporateBookings(
        _ request: BookingV1.ListCorporateBookingsRequest, context: ServerCallContext
    ) async throws -> BookingV1.ListCorporateBookingsResponse {
        var check = Validation()
        let filter = check.filter(request.statuses, request.overlapping, request.vehicleId)
        let organization = check.optionalUUID(request.corporateOrganizationId, "corporateOrganizationId")
        try check.finish()
        let page = try Page<TimeKey>(request.page, list: "booking.corporate", tokens: pages, maximum: 200)
        let rows = try await booking.corporateBookings(of: organization, filter, page: page, Invocation(context, fingerprint: request))
        let (kept, next) = page.cut(rows) { TimeKey($0.createdAt, $0.id) }
        return BookingV1.ListCorporateBookingsResponse(bookings: kept.map(\.message), page: next)
    }

    func listVendorBookingRequests(
        _ request: BookingV1.ListVendorBookingRequestsRequest, context: ServerCallContext
    ) async throws -> BookingV1.ListVendorBookingRequestsResponse {
        var check = Validation()
        let filter = check.filter(request.statuses, request.overlapping, request.vehicleId)
        let organization = check.optionalUUID(request.vendorOrganizationId, "vendorOrganizationId")
        try check.finish()
        let page = try Page<TimeKey>(request.page, list: "booking.vendor", tokens: pages, maximum: 200)
        let rows = try await booking.vendorRequests(of: organization, filter, page: page, Invocation(context, fingerprint: request))
        let (kept, next) = page.cut(rows) { TimeKey($0.createdAt, $0.id) }
        return BookingV1.ListVendorBookingRequestsResponse(bookings: kept.map(\.message), page: next)
    }

    func expireBookingRequests(
        _ request: BookingV1.ExpireBookingRequestsRequest, context: ServerCallContext
    ) async throws -> BookingV1.ExpireBookingRequestsResponse {
        let expired = try await booking.expireRequests(Invocation(context, fingerprint: request))
        return BookingV1.ExpireBookingRequestsResponse(bookingIds: expired.map(\.lowercasedString))
    }

    private func parse(_ id: String, _ expected: CommonV1.Int64Value?) throws(RPCError) -> (UUID, Int64?) {
        var check = Validation()
        let id = check.uuid(id, "bookingId")
        let version = check.expectedVersion(expected)
        try check.finish()
        return (id, version)
    }
}
