public import Foundation
public import KaroKarKernel

/// Identity answers the kernel's ``MemberDirectory`` port: whether a user is a live member of an
/// organization (status, role name, account active), read in the asking context's transaction.
/// Booking and Assignment use it to check that an employee may be given a vehicle. No tenancy
/// here: the asking context decides what its caller may learn.
extension Identity: MemberDirectory {
    public nonisolated func member(user: UUID, organization: UUID, on work: UnitOfWork) async throws -> MemberFacts? {
        try await MembershipStore.directoryEntry(user: user, organization: organization, on: work)
    }
}
