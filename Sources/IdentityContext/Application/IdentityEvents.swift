import Foundation
import KaroKarKernel
import KaroKarMessages

/// The Identity context's events (DOMAIN.md section 3), built from its records. No secret or
/// credential is ever in one.
enum IdentityEvents {
    static func organizationRegistered(_ organization: OrganizationRecord, admin: UserRecord) -> EventDraft {
        let id = organization.id.lowercasedString
        return EventDraft(
            "organization.registered", aggregateType: "organization", aggregateID: id, aggregateVersion: organization.version,
            payload: .organizationRegistered(EventsV1.OrganizationRegistered(
                organizationId: id, name: organization.name, organizationType: organization.kind.event,
                metadata: organization.metadata, adminUserId: admin.id.lowercasedString
            ))
        )
    }

    static func userCreated(_ user: UserRecord, organization: UUID) -> EventDraft {
        let id = user.id.lowercasedString
        return EventDraft(
            "user.created", aggregateType: "user", aggregateID: id, aggregateVersion: user.version,
            payload: .userCreated(EventsV1.UserCreated(
                userId: id, organizationId: organization.lowercasedString, firstName: user.firstName, lastName: user.lastName,
                email: user.email, phone: user.phone.map { CommonV1.StringValue(value: $0) }
            ))
        )
    }

    static func userDisabled(_ user: UserRecord, reason: String, moderationAction: String?) -> EventDraft {
        let id = user.id.lowercasedString
        return EventDraft(
            "user.disabled", aggregateType: "user", aggregateID: id, aggregateVersion: user.version,
            payload: .userDisabled(EventsV1.UserDisabled(
                userId: id, reason: reason, moderationActionId: moderationAction.map { CommonV1.StringValue(value: $0) }
            ))
        )
    }

    static func userPasswordChanged(_ user: UserRecord) -> EventDraft {
        let id = user.id.lowercasedString
        return EventDraft(
            "user.password_changed", aggregateType: "user", aggregateID: id, aggregateVersion: user.version,
            payload: .userPasswordChanged(EventsV1.UserPasswordChanged(userId: id))
        )
    }

    // MARK: - Memberships

    static func memberAdded(_ membership: MembershipRecord) -> EventDraft {
        membershipEvent("member.added", membership, .memberAdded(EventsV1.MemberAdded(
            membershipId: membership.id.lowercasedString, userId: membership.userID.lowercasedString,
            organizationId: membership.organizationID.lowercasedString, roleId: membership.roleID.lowercasedString,
            roleName: membership.roleName, status: membership.status.event
        )))
    }

    static func memberActivated(_ membership: MembershipRecord) -> EventDraft {
        membershipEvent("member.activated", membership, .memberActivated(EventsV1.MemberActivated(
            membershipId: membership.id.lowercasedString, userId: membership.userID.lowercasedString,
            organizationId: membership.organizationID.lowercasedString, roleId: membership.roleID.lowercasedString,
            roleName: membership.roleName
        )))
    }

    static func memberRoleChanged(_ changed: MembershipRecord, previous: MembershipRecord) -> EventDraft {
        membershipEvent("member.role_changed", changed, .memberRoleChanged(EventsV1.MemberRoleChanged(
            membershipId: changed.id.lowercasedString, userId: changed.userID.lowercasedString,
            organizationId: changed.organizationID.lowercasedString, previousRoleId: previous.roleID.lowercasedString,
            previousRoleName: previous.roleName, roleId: changed.roleID.lowercasedString, roleName: changed.roleName
        )))
    }

    static func memberRemoved(_ removed: MembershipRecord, reason: String?) -> EventDraft {
        membershipEvent("member.removed", removed, .memberRemoved(EventsV1.MemberRemoved(
            membershipId: removed.id.lowercasedString, userId: removed.userID.lowercasedString,
            organizationId: removed.organizationID.lowercasedString, roleId: removed.roleID.lowercasedString,
            roleName: removed.roleName, reason: reason.map { CommonV1.StringValue(value: $0) }
        )))
    }

    private static func membershipEvent(
        _ type: String, _ membership: MembershipRecord, _ payload: EventsV1.EventEnvelope.PayloadOneof
    ) -> EventDraft {
        EventDraft(type, aggregateType: "membership", aggregateID: membership.id.lowercasedString, aggregateVersion: membership.version, payload: payload)
    }

    // MARK: - Service accounts

    static func serviceAccountCreated(_ account: ServiceAccountRecord) -> EventDraft {
        accountEvent("service_account.created", account, .serviceAccountCreated(EventsV1.ServiceAccountCreated(
            serviceAccountId: account.id.lowercasedString, organizationId: account.organizationID.lowercasedString,
            name: account.name, permissions: account.permissions
        )))
    }

    static func serviceAccountSecretRotated(_ account: ServiceAccountRecord) -> EventDraft {
        accountEvent("service_account.secret_rotated", account, .serviceAccountSecretRotated(EventsV1.ServiceAccountSecretRotated(
            serviceAccountId: account.id.lowercasedString, organizationId: account.organizationID.lowercasedString
        )))
    }

    static func serviceAccountRevoked(_ account: ServiceAccountRecord, reason: String?) -> EventDraft {
        accountEvent("service_account.revoked", account, .serviceAccountRevoked(EventsV1.ServiceAccountRevoked(
            serviceAccountId: account.id.lowercasedString, organizationId: account.organizationID.lowercasedString,
            reason: reason.map { CommonV1.StringValue(value: $0) }
        )))
    }

    private static func accountEvent(
        _ type: String, _ account: ServiceAccountRecord, _ payload: EventsV1.EventEnvelope.PayloadOneof
    ) -> EventDraft {
        EventDraft(type, aggregateType: "service_account", aggregateID: account.id.lowercasedString, aggregateVersion: account.version, payload: payload)
    }
}

extension TenantKind {
    /// The events' copy of the organization type.
    var event: EventsV1.OrganizationType {
        switch self {
        case .platform: .platform
        case .vendor: .vendor
        case .corporate: .corporate
        }
    }
}

extension MembershipStatus {
    /// The events' copy of the membership status.
    var event: EventsV1.MembershipStatus {
        switch self {
        case .invited: .invited
        case .active: .active
        case .suspended: .suspended
        case .removed: .removed
        }
    }
}
