import Foundation
import KaroKarKernel

/// Who a token's principal is right now, as the database says: what the authorization cache
/// holds. Token-independent (many tokens share one). Immutable, and a class so that handing it
/// around (cache, a connection's verified credential) copies a reference, not the records.
final class Principal: Sendable {
    let organization: OrganizationRecord
    /// The role's (users) or the account's (service accounts) permissions, before the
    /// organization's status is taken into account.
    let granted: Set<Permission>
    let user: UserRecord?
    let membership: MembershipRecord?
    let serviceAccount: ServiceAccountRecord?
    /// Users: the membership's sessions (refresh-token families) ended lately (logout, password
    /// change, a replayed refresh token), whose access tokens may not have expired yet.
    let revokedSessions: Set<UUID>
    /// Resolved once per load, not per call.
    let caller: Caller

    init(
        organization: OrganizationRecord, granted: Set<Permission>, user: UserRecord?, membership: MembershipRecord?,
        serviceAccount: ServiceAccountRecord?, revokedSessions: Set<UUID> = []
    ) {
        self.organization = organization
        self.granted = granted
        self.user = user
        self.membership = membership
        self.serviceAccount = serviceAccount
        self.revokedSessions = revokedSessions
        caller = Caller(
            kind: serviceAccount == nil ? .user : .serviceAccount, principalID: serviceAccount?.id ?? user?.id ?? UUID.random(),
            organizationID: organization.id, organizationKind: organization.kind, organizationStatus: organization.status,
            membershipID: membership?.id,
            permissions: EffectivePermissions.resolve(granted, organizationStatus: organization.status)
        )
    }

    /// Active principals only: an ACTIVE membership of an ACTIVE user, or an ACTIVE account.
    var isActive: Bool {
        if let serviceAccount { return serviceAccount.status == .active }
        return membership?.status == .active && user?.status == .active
    }
}
