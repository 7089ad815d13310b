import Foundation
import KaroKarKernel

/// Who reaches a booking (DOMAIN.md section 2: "a booking is visible to both its vendor and its
/// corporate"; platform administrators act across tenants). What a caller may not see answers
/// NOT_FOUND, so existence does not leak; a party that sees the booking but asks for the other
/// party's verb gets PERMISSION_DENIED.
enum BookingTenancy {
    /// How a caller stands to a booking.
    enum Standing: Sendable, Hashable {
        /// Platform administrators and the system.
        case platform
        /// A member of its corporate; `ownOnly` when the caller holds only the `*_own` grant
        /// (an employee: only their own self-bookings, see ``BookingRecord/isOwnSelfBooking(of:)``).
        case corporate(ownOnly: Bool)
        case vendor
        case none
    }

    /// `ownGrant` is the `*_own` permission of the verb (or read); `fullGrant` the corporate-wide one.
    static func standing(of caller: Caller, to booking: BookingRecord, full fullGrant: Permission, own ownGrant: Permission?) -> Standing {
        if caller.actsAcrossTenants { return .platform }
        guard caller.kind != .anonymous else { return .none }
        if caller.organizationID == booking.corporateID {
            if caller.has(fullGrant) { return .corporate(ownOnly: false) }
            if let ownGrant, caller.has(ownGrant), booking.isOwnSelfBooking(of: caller.principalID) {
                return .corporate(ownOnly: true)
            }
            // An employee reading a colleague's booking: it does not exist for them.
            return ownGrant != nil && !caller.has(fullGrant) ? .none : .corporate(ownOnly: false)
        }
        if caller.organizationID == booking.vendorID, booking.status != .draft { return .vendor }
        return .none
    }

    /// Readers: corporate (an employee: their own), vendor (not drafts), platform.
    static func mayRead(_ booking: BookingRecord, _ caller: Caller) -> Bool {
        standing(of: caller, to: booking, full: .bookingRead, own: .bookingReadOwn) != .none
    }

    /// The corporate's verbs (submit, cancel with their own grants; assign, activate, complete).
    /// Platform administrators may also terminate; `platformToo` says whether they pass here.
    static func checkCorporateVerb(
        _ booking: BookingRecord, _ caller: Caller, full: Permission, own: Permission? = nil, platformToo: Bool = false
    ) throws(DomainError) {
        switch standing(of: caller, to: booking, full: full, own: own) {
        case .corporate: return
        case .platform where platformToo || caller.isSystem: return
        case .none: throw DomainError.notFound("booking")
        case .platform, .vendor: throw DomainError.permissionDenied("only the booking's corporate may do this")
        }
    }

    /// The vendor's verbs: approve and reject.
    static func checkVendorVerb(_ booking: BookingRecord, _ caller: Caller) throws(DomainError) {
        switch standing(of: caller, to: booking, full: .bookingRead, own: .bookingReadOwn) {
        case .vendor: return
        case .none: throw DomainError.notFound("booking")
        case .platform where caller.isSystem: return
        case .platform, .corporate: throw DomainError.permissionDenied("only the booking's vendor may approve or reject it")
        }
    }

    /// The corporate whose list a caller reads: the caller's, or (platform administrators) any.
    static func listedOrganization(_ requested: UUID?, _ caller: Caller) throws(DomainError) -> UUID {
        guard let requested, requested != caller.organizationID else { return caller.organizationID }
        guard caller.actsAcrossTenants else { throw DomainError.notFound("organization") }
        return requested
    }
}
