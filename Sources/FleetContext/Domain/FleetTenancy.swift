import Foundation
import KaroKarKernel

/// Who reaches which vehicle (DOMAIN.md section 2, "Tenancy"): owners and platform
/// administrators (and the system) change and fully read a vehicle (``Caller/reaches(_:)``);
/// corporates may read a vendor's listing that search would show them. Everything else answers
/// NOT_FOUND, so existence does not leak.
enum FleetTenancy {
    /// A corporate may read (and check the availability of) a vendor's ACTIVE listing, when its
    /// owner is ACTIVE too (which the caller of this checks).
    static func mayBrowse(_ vehicle: Vehicle, as caller: Caller) -> Bool {
        caller.kind != .anonymous && caller.organizationKind == .corporate && vehicle.status == .active
            && vehicle.ownership == .vendorOwned
    }

    /// The organization a list is about: the caller's, or (platform administrators only) any.
    static func listedOrganization(_ requested: UUID?, _ caller: Caller) throws(DomainError) -> UUID {
        guard let requested, requested != caller.organizationID else { return caller.organizationID }
        guard caller.actsAcrossTenants else { throw DomainError.notFound("organization") }
        return requested
    }

    /// The owner whose records a caller's lists and sweeps cover; nil (every owner) for those who
    /// act across tenants.
    static func ownScope(of caller: Caller) -> UUID? {
        caller.actsAcrossTenants ? nil : caller.organizationID
    }
}

/// A marketplace search (DOMAIN.md section 5, "Search"): when the vehicle must be free and the
/// filters, validated.
struct VehicleSearch: Sendable, Hashable {
    var stretch: FreeStretch
    var vendor: UUID?
    var make: String?
    var model: String?
    var yearMin: Int32?
    var yearMax: Int32?
    var ownership: Ownership?

    /// A search for vehicles free for the whole of `period` (a closed one).
    init(period: Period) {
        stretch = FreeStretch(period)
    }

    /// A flexible search: vehicles free for `stretch.length` from some start in its range.
    init(stretch: FreeStretch) {
        self.stretch = stretch
    }
}

/// A search's answer: a vehicle and its earliest suitable start.
struct AvailableVehicle: Sendable {
    let vehicle: Vehicle
    let start: Instant
}

/// When a vehicle must be free: for `length` microseconds from a start between `earliestStart`
/// and `latestStart` (both included). A plain search is the case of one start. A vehicle's answer
/// is its earliest suitable start; a booking from it, extended by the owner's turnaround buffer,
/// fits in one of the vehicle's free intervals.
struct FreeStretch: Sendable, Hashable {
    let earliestStart: Instant
    let latestStart: Instant
    let length: Int64

    /// Free for the whole of `period`: one start, `period.start`.
    init(_ period: Period) {
        earliestStart = period.start
        latestStart = period.start
        length = max(1, (period.end?.microseconds ?? period.start.microseconds) - period.start.microseconds)
    }

    /// `latestStart` not before `earliestStart`, `length` positive (checked at the edge).
    init(earliestStart: Instant, latestStart: Instant, length: Int64) {
        self.earliestStart = earliestStart
        self.latestStart = max(earliestStart, latestStart)
        self.length = max(1, length)
    }

    /// The latest instant a suitable booking (without buffer) may end: `latestStart + length`.
    var latestEnd: Instant { Instant(microseconds: latestStart.microseconds + length) }
}

/// Whose listings one caller's search walks.
struct SearchReach: Sendable, Hashable {
    /// Platform administrators see every listing; others vendors' listings plus their own fleet.
    let everything: Bool
    let caller: UUID
    /// The one owner whose listings are walked, when the search comes down to one.
    let owner: UUID?

    /// Nil when the search can find nothing: a caller without a tenant, or corporate-owned
    /// listings of a vendor.
    init?(_ search: VehicleSearch, caller: Caller) {
        guard caller.kind != .anonymous else { return nil }
        everything = caller.actsAcrossTenants
        self.caller = caller.organizationID
        // Corporate-owned listings a corporate sees are its own: say so, so the search walks only its fleet.
        owner = search.ownership == .corporateOwned && !everything ? caller.organizationID : search.vendor
        if search.ownership == .corporateOwned, let vendor = search.vendor, vendor != owner { return nil }
    }
}
