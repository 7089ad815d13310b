import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport

/// The marketplace a booking needs, through the real server over TCP: an ACTIVE vendor with an
/// ACTIVE listing, an ACTIVE corporate with a fleet manager and an employee.
struct BookingWorld {
    let market: TestMarketplace
    let vendor: TestOrganization
    let corporate: TestOrganization
    let vehicle: FleetV1.Vehicle
    let manager: TestSession
    let employee: TestSession

    static func make(_ market: TestMarketplace) async throws -> BookingWorld {
        let vendor = try await market.onboard(.vendor)
        let corporate = try await market.onboard(.corporate)
        return BookingWorld(
            market: market, vendor: vendor, corporate: corporate, vehicle: try await listing(market, vendor),
            manager: try await market.member(of: corporate, role: "FLEET_MANAGER"), employee: try await market.member(of: corporate, role: "EMPLOYEE")
        )
    }

    /// A registered and activated vehicle of `owner` (vendor-owned for vendors, corporate-owned for corporates).
    static func listing(_ market: TestMarketplace, _ owner: TestOrganization) async throws -> FleetV1.Vehicle {
        let fleet = FleetV1.FleetService.Client(market.client)
        let registered = try await fleet.registerVehicle(.init(
            ownershipType: owner.type == .vendor ? .vendorOwned : .corporateOwned, make: "Tata", model: "Nexon", year: 2024,
            licensePlate: "KA\(UUID().uuidString.prefix(8))"
        ), options: owner.admin.callOptions).vehicle!
        try await market.verifyVehicle(registered.id, owner: owner.admin)
        return try await fleet.activateVehicle(.init(vehicleId: registered.id), options: owner.admin.callOptions).vehicle!
    }

    var bookings: BookingV1.BookingService.Client { BookingV1.BookingService.Client(market.client) }
    var allocations: BookingV1.AllocationService.Client { BookingV1.AllocationService.Client(market.client) }
    var assignments: AssignmentV1.AssignmentService.Client { AssignmentV1.AssignmentService.Client(market.client) }
    var pool: PostgresPool { market.pool }

    /// A DRAFT booking of the world's vehicle, by `session` (the corporate's admin by default).
    func draft(_ period: CommonV1.Period, as session: TestSession? = nil, vehicle: String? = nil) async throws -> BookingV1.Booking {
        try await bookings.createBooking(
            .init(vehicleId: vehicle ?? self.vehicle.id, period: period), options: (session ?? corporate.admin).callOptions
        ).booking!
    }

    /// A REQUESTED booking.
    func requested(_ period: CommonV1.Period, as session: TestSession? = nil) async throws -> BookingV1.Booking {
        let draft = try await draft(period, as: session)
        return try await bookings.submitBooking(.init(bookingId: draft.id), options: (session ?? corporate.admin).callOptions).booking!
    }

    func approve(_ id: String) async throws -> BookingV1.Booking {
        try await bookings.approveBooking(.init(bookingId: id), options: vendor.admin.callOptions).booking!
    }

    /// An ASSIGNED booking and its assignment's id (assigned to the world's employee).
    func assigned(_ period: CommonV1.Period) async throws -> (BookingV1.Booking, String) {
        let booking = try await approve(try await requested(period).id)
        let response = try await bookings.assignBooking(.init(bookingId: booking.id, employeeId: employee.userID), options: manager.callOptions)
        return (response.booking!, response.assignmentId)
    }

    /// An ACTIVE booking (assigned, accepted by the employee, handed over at 1000 km).
    func active(_ period: CommonV1.Period) async throws -> BookingV1.Booking {
        let (booking, assignment) = try await assigned(period)
        _ = try await assignments.acceptAssignment(.init(assignmentId: assignment), options: employee.callOptions)
        return try await bookings.activateBooking(
            .init(bookingId: booking.id, evidence: reading(1000, 80)), options: manager.callOptions
        ).booking!
    }

    /// The event types published for a booking, in order.
    func events(_ booking: String) async throws -> [String] {
        try await pool.query("""
            SELECT event_type FROM karokar_events.outbox WHERE aggregate_type = 'booking' AND aggregate_id = \(booking) ORDER BY seq
            """).map { try $0.decode(String.self, "event_type") }
    }

    func count(_ sql: SQL) async throws -> Int {
        try await pool.query(sql).single().decode(Int.self, at: 0)
    }

    /// Open availability records of a source.
    func openRecords(_ source: String) async throws -> [String] {
        try await pool.query("""
            SELECT status FROM fleet.availability WHERE source_id = \(UUID(uuidString: source)!) AND released_at IS NULL ORDER BY created_at
            """).map { try $0.decode(String.self, "status") }
    }
}

func reading(_ odometer: Int64, _ fuel: Int32, _ notes: String? = nil) -> BookingV1.HandoverReading {
    BookingV1.HandoverReading(odometerKm: odometer, fuelPercent: fuel, conditionNotes: notes.map { CommonV1.StringValue(value: $0) })
}

/// `[start, end)` in days from 2027-07-01T00:00:00Z (the future, for the server's clock).
func period(_ start: Double, _ end: Double) -> CommonV1.Period {
    let origin: Int64 = 1_814_400_000
    return CommonV1.Period(
        start: CommonV1.Timestamp(seconds: origin + Int64(start * 86_400)), end: CommonV1.Timestamp(seconds: origin + Int64(end * 86_400))
    )
}

/// A period starting `seconds` from now, an hour long.
func periodStarting(inSeconds seconds: Int64) -> CommonV1.Period {
    let now = Int64(Date().timeIntervalSince1970)
    return CommonV1.Period(start: CommonV1.Timestamp(seconds: now + seconds), end: CommonV1.Timestamp(seconds: now + seconds + 3600))
}

struct Outcomes {
    var successes = 0
    var failures: [any Error] = []
    var codes: [String: Int] {
        failures.reduce(into: [:]) { $0[(($1 as? RPCError)?.domainCode) ?? "\($1)", default: 0] += 1 }
    }
}

/// Runs `count` calls at once; counts successes and failures.
func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) async throws -> some Sendable) async -> Outcomes {
    await withTaskGroup(of: (any Error)?.self) { group in
        for index in 0..<count {
            group.addTask {
                do {
                    _ = try await body(index)
                    return nil
                } catch {
                    return error
                }
            }
        }
        var outcomes = Outcomes()
        for await error in group {
            if let error { outcomes.failures.append(error) } else { outcomes.successes += 1 }
        }
        return outcomes
    }
}
