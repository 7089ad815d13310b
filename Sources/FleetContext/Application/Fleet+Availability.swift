import Foundation
import KaroKarKernel

/// The availability engine's verbs (DOMAIN.md section 5, "Service operations"), for operators,
/// internal services and calendar views. Here one places and releases BOOKING and ASSIGNMENT
/// records only (``HoldRules/checkPlacedByEngine(_:_:)``); records of Fleet's own aggregates
/// go through their verbs.
extension Fleet {
    /// Whether a booking of `period` would be free on a vehicle the caller may see: no open record
    /// holds it during the period extended by the owner's turnaround buffer (which it returns).
    nonisolated func isAvailable(_ vehicle: UUID, period: Period, _ invocation: Invocation) async throws -> (Bool, Int32) {
        try await bus.read(invocation) { work in
            _ = try await FleetAccess.visibleVehicle(vehicle, invocation.caller, work)
            return (try await AvailabilityStore.isFree(vehicle, period, asBooking: true, work), try await AvailabilityStore.turnaroundMinutes(vehicle, work))
        }
    }

    /// Sets the caller's organization's turnaround buffer (minutes held after each booking or
    /// assignment of its vehicles), for records placed from now on.
    nonisolated func setTurnaroundBuffer(minutes: Int32, _ invocation: Invocation) async throws -> Int32 {
        let caller = invocation.caller
        return try await bus.mutation(invocation) { work in
            guard try await VehicleStore.setTurnaround(caller.organizationID, minutes: minutes, work) else {
                throw DomainError.notFound("organization")
            }
            try await work.publish(HoldEvents.turnaroundBufferSet(caller.organizationID, minutes: minutes))
            return minutes
        }
    }

    /// Places a record on an ACTIVE vehicle the caller owns (`VEHICLE_NOT_AVAILABLE` on a conflict).
    /// `hold` was checked against ``HoldRules`` at the edge.
    nonisolated func createAvailabilityRecord(vehicle id: UUID, _ hold: Hold, _ invocation: Invocation) async throws -> AvailabilityRecord {
        try HoldRules.checkPlacedByEngine(hold.source, "placed")
        return try await bus.mutation(invocation) { work in
            let vehicle = try await FleetAccess.ownedVehicle(id, invocation.caller, work)
            guard vehicle.status == .active else { throw FleetError.vehicleNotAvailable() }
            return try await AvailabilityEngine.hold(hold, on: vehicle, work)
        }
    }

    /// Releases a source's open records (history is kept), each on a vehicle the caller owns.
    nonisolated func releaseAvailability(
        _ source: HoldSource, _ sourceID: UUID, _ invocation: Invocation
    ) async throws -> [AvailabilityRecord] {
        try HoldRules.checkPlacedByEngine(source, "released")
        // A source id is the caller's to name: only the caller's own records are looked at (platform
        // administrators: every tenant's), so another tenant's records with the same id neither
        // show (a random id and another tenant's answer alike) nor stand in the way.
        let owner = invocation.caller.actsAcrossTenants ? nil : invocation.caller.organizationID
        return try await bus.mutation(invocation) { work in
            for record in try await AvailabilityStore.open(source, sourceID, owner: owner, work) {
                _ = try await FleetAccess.ownedVehicle(record.vehicleID, invocation.caller, work)  // locks it
            }
            return try await AvailabilityEngine.release(source, sourceID, owner: owner, work)
        }
    }

    /// RESERVED -> ALLOCATED of an open record on a vehicle the caller owns.
    nonisolated func changeAvailabilityStatus(
        _ id: UUID, to status: HoldStatus, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> AvailabilityRecord {
        try await bus.mutation(invocation) { work in
            guard let found = try await AvailabilityStore.lock(id, work), invocation.caller.reaches(found.organizationID) else {
                throw DomainError.notFound("availability record")
            }
            _ = try await FleetAccess.ownedVehicle(found.vehicleID, invocation.caller, work)
            try ExpectedVersion.check(expectedVersion, found.version, "availability record")
            return try await AvailabilityEngine.change(found, to: status, work)
        }
    }

    /// A calendar page of a vehicle's records overlapping `window`, by start (its owner and
    /// platform administrators).
    nonisolated func timeline(
        of vehicle: UUID, window: Period, includeReleased: Bool, page: Page<TimeKey>, _ invocation: Invocation
    ) async throws -> [AvailabilityRecord] {
        try await bus.read(invocation) { work in
            _ = try await FleetAccess.historyOf(vehicle, invocation.caller, work)
            return try await AvailabilityStore.timeline(
                vehicle, window, includeReleased: includeReleased, after: page.after, limit: page.fetchLimit, work
            )
        }
    }

    /// `SearchAvailableVehicles`: a page of ACTIVE listings of ACTIVE owners free for the whole
    /// period, by id (see ``SearchReach`` for whose listings a caller sees).
    nonisolated func searchAvailableVehicles(_ search: VehicleSearch, page: Page<UUID>, _ invocation: Invocation) async throws -> [Vehicle] {
        guard let reach = SearchReach(search, caller: invocation.caller) else { return [] }
        return try await bus.read(invocation) { work in
            try await SearchStore.search(search, reach: reach, after: page.after, limit: page.fetchLimit, work).map(\.vehicle)
        }
    }

    /// `SearchFlexibleStart`: a page of the listings a search would show that are free for
    /// `search.stretch.length` from some start in its range, each with its earliest such start, by id.
    nonisolated func searchFlexibleStart(_ search: VehicleSearch, page: Page<UUID>, _ invocation: Invocation) async throws -> [AvailableVehicle] {
        guard let reach = SearchReach(search, caller: invocation.caller) else { return [] }
        return try await bus.read(invocation) { work in
            try await SearchStore.search(search, reach: reach, after: page.after, limit: page.fetchLimit, work)
        }
    }
}
