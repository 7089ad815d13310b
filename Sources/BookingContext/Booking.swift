public import KaroKarKernel
public import KaroKarPostgres
public import KaroKarRPC
import KaroKarServices

/// The Booking context's front door (DOMAIN.md section 6 and 6.1): bookings of vendors' vehicles
/// by corporates, and employees' self-booking allocations, one use case per verb
/// (`Application/Booking+*.swift`). It holds no business state (the database is the source of
/// truth), so its use cases are `nonisolated`. Facts owned by other contexts come through the
/// kernel's query ports, read in Booking's own transaction: ``VehicleDirectory`` (Fleet) and
/// ``MemberDirectory`` (Identity). Fleet and Assignment react to its events inside its
/// transactions (approve => reserve, assign => allocate and create the assignment, ...). See the
/// README next to this file for its rules.
public actor Booking: BoundedContext {
    public static let migrations: [Migration] = BookingMigrations.all

    nonisolated let environment: ContextEnvironment
    nonisolated let vehicles: any VehicleDirectory
    nonisolated let members: any MemberDirectory
    nonisolated let options: BookingOptions

    public init(
        environment: ContextEnvironment, vehicles: any VehicleDirectory, members: any MemberDirectory, options: BookingOptions = BookingOptions()
    ) {
        self.environment = environment.named("booking")
        self.vehicles = vehicles
        self.members = members
        self.options = options
        subscribeReactions(to: environment.bus)
    }

    nonisolated var bus: EventBus { environment.bus }

    /// `karokar.booking.v1.BookingService` and `karokar.booking.v1.AllocationService`.
    public nonisolated var services: [RPCServiceDefinition] {
        [BookingHandler(booking: self).serviceDefinition(), AllocationHandler(booking: self).serviceDefinition()]
    }

    /// The request expiry sweep, every ``BookingOptions/expirySweepInterval``, until cancelled.
    public nonisolated func runBackgroundWork() async {
        guard let interval = options.expirySweepInterval else { return }
        await expirePeriodically(every: interval)
    }
}

/// Booking's settings (from the server's configuration).
public struct BookingOptions: Sendable {
    /// How long a `REQUESTED` booking waits for the vendor before the sweep cancels it (it is
    /// cancelled earlier when its period starts).
    public var requestTimeToLive: Duration = .seconds(48 * 3600)
    /// How often the expiry sweep runs; nil: never by itself (the RPC still runs it).
    public var expirySweepInterval: Duration? = .seconds(60)
    /// Bookings one sweep transaction expires at most (the sweep loops until none is due).
    public var expiryBatchSize = 100

    public init() {}
}
