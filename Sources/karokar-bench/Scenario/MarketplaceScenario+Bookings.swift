import KaroKarMessages
import KaroKarRPC
import KaroKarServices

/// The booking flow in the marketplace mix, each booking's life a chain of follow-ups run by one
/// worker, each call as the actor who makes it: a corporate books (create, submit), the vendor
/// approves (or rejects 1 in 5), the corporate assigns an employee who accepts, hands over and
/// completes (terminates 1 in 6, cancels 1 in 8 before handover); an employee books for themselves
/// within the corporate's allocation, approved straight into an accepted assignment. Collisions
/// with other holds (`VEHICLE_NOT_AVAILABLE`) and a full allocation (`ALLOCATION_EXCEEDED`) are
/// outcomes by design.
extension MarketplaceScenario {
    typealias Bookings = BookingV1.BookingService
    typealias Assignments = AssignmentV1.AssignmentService

    /// The seeded EMPLOYEE system role (Identity's migration; the same in every installation).
    static let employeeRole = "2cc19f84-6b0b-4ba7-b58a-cf31bde5c7f8"
    static let bookingRefusals: Set<String> = ["VEHICLE_NOT_AVAILABLE", "ALLOCATION_EXCEEDED"]

    struct Employee: Sendable {
        let actor: MarketplaceActor
        let userID: String
    }

    /// One booking's parties, carried along its chain.
    struct Party: Sendable {
        let corporate: MarketplaceActor
        let vendor: MarketplaceActor
        let employee: Employee
    }

    // MARK: - Setup

    /// Each corporate's administrator adds one employee, who signs in.
    static func addEmployee(_ data: MarketplaceData) -> ScenarioStep {
        ScenarioStep(name: "add-employee", path: Identity.Method.createUser.path) { context, _ in
            let index = context.world.next("employee")
            guard let corporate = context.world.value(at: index, in: "corporates", as: MarketplaceActor.self) else {
                throw RPCError(.failedPrecondition, "no corporate \(index)")
            }
            let email = "employee-\(index)-\(data.runTag)@bench.karokar.test"
            _ = try await Identity.Client(context.client).createUser(IdentityV1.CreateUserRequest(
                firstName: "Bench", lastName: "Employee \(index)", email: email, password: data.password, roleId: employeeRole
            ), options: context.options(as: corporate))
            let response = try await Identity.Client(context.client).login(IdentityV1.LoginRequest(email: email, password: data.password), options: context.options)
            guard let token = response.grant?.accessToken else { throw RPCError(.internal, "Login answered without a grant") }
            context.world.add([Employee(actor: MarketplaceActor(organizationID: corporate.organizationID, accessToken: token), userID: response.userId)],
                              to: "employees:\(corporate.organizationID)")
        }
    }

    /// Each corporate lets every employee hold two self-bookings at once.
    static let setAllocation = ScenarioStep(name: "set-allocation", path: BookingV1.AllocationService.Method.setAllocation.path) { context, _ in
        let index = context.world.next("allocation")
        guard let corporate = context.world.value(at: index, in: "corporates", as: MarketplaceActor.self) else {
            throw RPCError(.failedPrecondition, "no corporate \(index)")
        }
        _ = try await BookingV1.AllocationService.Client(context.client).setAllocation(
            BookingV1.SetAllocationRequest(maxActiveBookings: 2, maxDaysPerMonth: 0), options: context.options(as: corporate)
        )
    }

    // MARK: - The mix

    static func party(_ context: ScenarioContext, _ random: inout BenchRandom) throws -> (Party, MarketplaceVehicle) {
        let corporate: MarketplaceActor = try pick("corporates", context, &random)
        let employee: Employee = try pick("employees:\(corporate.organizationID)", context, &random)
        let vehicle: MarketplaceVehicle = try pick("vehicles", context, &random)
        return (Party(corporate: corporate, vendor: vehicle.owner, employee: employee), vehicle)
    }

    /// A corporate books a listing for up to three days: create, then the follow-up submits.
    static func book(_ data: MarketplaceData) -> ScenarioStep {
        ScenarioStep(name: "create-booking", path: Bookings.Method.createBooking.path, followedBy: [Bookings.Method.submitBooking.path]) { context, random in
            let (party, vehicle) = try party(context, &random)
            let booking = try await Bookings.Client(context.client).createBooking(
                BookingV1.CreateBookingRequest(vehicleId: vehicle.id, period: data.randomPeriod(maximumHours: 72, using: &random)),
                options: context.options(as: party.corporate)
            ).booking
            return submit(try id(booking), party, by: party.corporate, selfBooking: false)
        }
    }

    /// An employee books for themselves (within the allocation).
    static func selfBook(_ data: MarketplaceData) -> ScenarioStep {
        ScenarioStep(name: "self-book", path: Bookings.Method.createBooking.path, followedBy: [Bookings.Method.submitBooking.path]) { context, random in
            let (party, vehicle) = try party(context, &random)
            let booking = try await Bookings.Client(context.client).createBooking(
                BookingV1.CreateBookingRequest(vehicleId: vehicle.id, period: data.randomPeriod(maximumHours: 48, using: &random)),
                options: context.options(as: party.employee.actor)
            ).booking
            return submit(try id(booking), party, by: party.employee.actor, selfBooking: true)
        }
    }

    static func submit(_ booking: String, _ party: Party, by actor: MarketplaceActor, selfBooking: Bool) -> ScenarioStep {
        ScenarioStep(
            name: selfBooking ? "submit-own-booking" : "submit-booking", path: Bookings.Method.submitBooking.path,
            followedBy: [Bookings.Method.approveBooking.path, Bookings.Method.rejectBooking.path], expecting: bookingRefusals
        ) { context, random in
            _ = try await Bookings.Client(context.client).submitBooking(BookingV1.SubmitBookingRequest(bookingId: booking), options: context.options(as: actor))
            if !selfBooking, Int.random(in: 0..<5, using: &random) == 0 { return reject(booking, party) }
            return approve(booking, party, selfBooking: selfBooking)
        }
    }

    static func reject(_ booking: String, _ party: Party) -> ScenarioStep {
        ScenarioStep(name: "reject-booking", path: Bookings.Method.rejectBooking.path) { context, _ in
            _ = try await Bookings.Client(context.client).rejectBooking(
                BookingV1.RejectBookingRequest(bookingId: booking, reason: "vehicle promised elsewhere"), options: context.options(as: party.vendor)
            )
        }
    }

    /// The vendor approves: the reservation is placed in the same transaction, or refused.
    static func approve(_ booking: String, _ party: Party, selfBooking: Bool) -> ScenarioStep {
        ScenarioStep(
            name: selfBooking ? "approve-own-booking" : "approve-booking", path: Bookings.Method.approveBooking.path,
            followedBy: [Bookings.Method.assignBooking.path, Bookings.Method.cancelBooking.path, Bookings.Method.activateBooking.path],
            expecting: bookingRefusals
        ) { context, random in
            _ = try await Bookings.Client(context.client).approveBooking(BookingV1.ApproveBookingRequest(bookingId: booking), options: context.options(as: party.vendor))
            if selfBooking { return activate(booking, party) }
            if Int.random(in: 0..<8, using: &random) == 0 { return cancel(booking, party) }
            return assign(booking, party)
        }
    }

    static func cancel(_ booking: String, _ party: Party) -> ScenarioStep {
        ScenarioStep(name: "cancel-booking", path: Bookings.Method.cancelBooking.path) { context, _ in
            _ = try await Bookings.Client(context.client).cancelBooking(
                BookingV1.CancelBookingRequest(bookingId: booking, reason: CommonV1.StringValue(value: "plans changed")), options: context.options(as: party.corporate)
            )
        }
    }

    static func assign(_ booking: String, _ party: Party) -> ScenarioStep {
        ScenarioStep(name: "assign-booking", path: Bookings.Method.assignBooking.path, followedBy: [Assignments.Method.acceptAssignment.path]) { context, _ in
            let response = try await Bookings.Client(context.client).assignBooking(
                BookingV1.AssignBookingRequest(bookingId: booking, employeeId: party.employee.userID), options: context.options(as: party.corporate)
            )
            return accept(response.assignmentId, booking, party)
        }
    }

    static func accept(_ assignment: String, _ booking: String, _ party: Party) -> ScenarioStep {
        ScenarioStep(name: "accept-assignment", path: Assignments.Method.acceptAssignment.path, followedBy: [Bookings.Method.activateBooking.path]) { context, _ in
            _ = try await Assignments.Client(context.client).acceptAssignment(
                AssignmentV1.AcceptAssignmentRequest(assignmentId: assignment), options: context.options(as: party.employee.actor)
            )
            return activate(booking, party)
        }
    }

    /// Handover at a random odometer; the follow-up completes (or terminates 1 in 6).
    static func activate(_ booking: String, _ party: Party) -> ScenarioStep {
        ScenarioStep(
            name: "activate-booking", path: Bookings.Method.activateBooking.path,
            followedBy: [Bookings.Method.completeBooking.path, Bookings.Method.terminateBooking.path]
        ) { context, random in
            let odometer = Int64.random(in: 1_000...90_000, using: &random)
            _ = try await Bookings.Client(context.client).activateBooking(
                BookingV1.ActivateBookingRequest(bookingId: booking, evidence: BookingV1.HandoverReading(odometerKm: odometer, fuelPercent: 90)),
                options: context.options(as: party.corporate)
            )
            return Int.random(in: 0..<6, using: &random) == 0 ? terminate(booking, party) : complete(booking, odometer, party)
        }
    }

    static func complete(_ booking: String, _ odometer: Int64, _ party: Party) -> ScenarioStep {
        ScenarioStep(name: "complete-booking", path: Bookings.Method.completeBooking.path) { context, random in
            _ = try await Bookings.Client(context.client).completeBooking(
                BookingV1.CompleteBookingRequest(
                    bookingId: booking, evidence: BookingV1.HandoverReading(odometerKm: odometer + Int64.random(in: 5...800, using: &random), fuelPercent: 40)
                ),
                options: context.options(as: party.corporate)
            )
        }
    }

    static func terminate(_ booking: String, _ party: Party) -> ScenarioStep {
        ScenarioStep(name: "terminate-booking", path: Bookings.Method.terminateBooking.path) { context, _ in
            _ = try await Bookings.Client(context.client).terminateBooking(
                BookingV1.TerminateBookingRequest(bookingId: booking, reason: .corporateRecall), options: context.options(as: party.corporate)
            )
        }
    }

    private static func id(_ booking: BookingV1.Booking?) throws -> String {
        guard let id = booking?.id else { throw RPCError(.internal, "CreateBooking answered without the booking") }
        return id
    }
}
