public import Foundation

/// What the Identity context tells other contexts about one user's membership of one
/// organization, read inside their own transaction: a query port, so Booking and Assignment never
/// import Identity nor read its tables. Identity implements it; the composition root passes the
/// implementation to the contexts that need it.
public protocol MemberDirectory: Sendable {
    /// The user's live (not removed) membership of `organization`; nil when there is none.
    func member(user: UUID, organization: UUID, on work: UnitOfWork) async throws -> MemberFacts?
}

/// The facts an assignment needs about an employee.
public struct MemberFacts: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable {
        case invited = "INVITED"
        case active = "ACTIVE"
        case suspended = "SUSPENDED"
        case removed = "REMOVED"
    }

    public let userID: UUID
    public let organizationID: UUID
    public let status: Status
    /// The role's name (`EMPLOYEE`, `FLEET_MANAGER`, ...): for display and logs, never for
    /// authorization.
    public let roleName: String
    /// Whether the user's account is active (not disabled).
    public let userIsActive: Bool

    public init(userID: UUID, organizationID: UUID, status: Status, roleName: String, userIsActive: Bool) {
        self.userID = userID
        self.organizationID = organizationID
        self.status = status
        self.roleName = roleName
        self.userIsActive = userIsActive
    }

    /// An `ACTIVE` member with an active account: who may be given a vehicle.
    public var mayReceiveVehicles: Bool { status == .active && userIsActive }
}
