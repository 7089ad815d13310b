public import Foundation

/// What the Identity context tells other contexts about the people to notify, read inside their
/// own transaction: a query port, so Notification never imports Identity nor reads its tables.
/// Identity implements it; the composition root passes the implementation to Notification.
public protocol RecipientDirectory: Sendable {
    /// The users with a live (`ACTIVE` or `INVITED`) membership of `organization` whose role's
    /// name is one of `roles`, active accounts only, by user id; at most `limit`.
    func recipients(organization: UUID, roles: [String], limit: Int, on work: UnitOfWork) async throws -> [RecipientFacts]
    /// One user as a member of `organization`; nil when there is no such user or membership.
    /// `isReachable` is false when the account is disabled or the membership is not live.
    func recipient(user: UUID, organization: UUID, on work: UnitOfWork) async throws -> RecipientFacts?
}

/// The facts a notification needs about its recipient: whom to greet and where to reach them.
public struct RecipientFacts: Sendable, Hashable {
    public let userID: UUID
    public let organizationID: UUID
    public let firstName: String
    public let lastName: String
    /// Lower case.
    public let email: String
    public let phone: String?
    /// An active account with a live membership of ``organizationID``.
    public let isReachable: Bool

    public init(
        userID: UUID, organizationID: UUID, firstName: String, lastName: String, email: String, phone: String?, isReachable: Bool
    ) {
        self.userID = userID
        self.organizationID = organizationID
        self.firstName = firstName
        self.lastName = lastName
        self.email = email
        self.phone = phone
        self.isReachable = isReachable
    }
}
