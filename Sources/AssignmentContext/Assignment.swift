public import KaroKarKernel
public import KaroKarPostgres
public import KaroKarRPC
import KaroKarServices

/// The Assignment context's front door (DOMAIN.md section 7): vehicles given to corporate
/// employees, one use case per verb (`Application/Assignment+*.swift`). A booking's assignment is
/// created, activated, completed and ended by in-transaction reactions to the booking's events;
/// a corporate-owned vehicle is assigned directly, and Fleet places its ALLOCATED / ASSIGNMENT
/// record (conflict-checked) inside the same transaction. Facts owned by other contexts come
/// through the kernel's query ports: ``VehicleDirectory`` (Fleet) and ``MemberDirectory``
/// (Identity). See the README next to this file for its rules.
public actor Assignment: BoundedContext {
    public static let migrations: [Migration] = AssignmentMigrations.all

    nonisolated let environment: ContextEnvironment
    nonisolated let vehicles: any VehicleDirectory
    nonisolated let members: any MemberDirectory

    public init(environment: ContextEnvironment, vehicles: any VehicleDirectory, members: any MemberDirectory) {
        self.environment = environment.named("assignment")
        self.vehicles = vehicles
        self.members = members
        subscribeReactions(to: environment.bus)
    }

    nonisolated var bus: EventBus { environment.bus }

    /// `karokar.assignment.v1.AssignmentService`.
    public nonisolated var services: [RPCServiceDefinition] {
        [AssignmentHandler(assignment: self).serviceDefinition()]
    }
}
