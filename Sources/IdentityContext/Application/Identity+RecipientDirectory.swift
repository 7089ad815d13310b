public import Foundation
public import KaroKarKernel

/// Identity answers the kernel's ``RecipientDirectory`` port: the members of an organization by
/// role, and one member's name and addresses, read in the Notification context's transaction.
/// No tenancy here: Notification decides whom an event concerns.
extension Identity: RecipientDirectory {
    public nonisolated func recipients(organization: UUID, roles: [String], limit: Int, on work: UnitOfWork) async throws -> [RecipientFacts] {
        try await MembershipStore.recipients(organization: organization, roles: roles, limit: limit, on: work)
    }

    public nonisolated func recipient(user: UUID, organization: UUID, on work: UnitOfWork) async throws -> RecipientFacts? {
        try await MembershipStore.recipient(user: user, organization: organization, on: work)
    }
}
