import Foundation
import KaroKarKernel
import KaroKarMessages

// Records to messages, and the wire's enums to the domain's: the only place that knows both.
// Nothing here ever carries a credential (a service account's secret is added by its handler).

extension OrganizationRecord {
    var message: IdentityV1.Organization {
        IdentityV1.Organization(
            id: id.lowercasedString, name: name, type: kind.proto, status: status.proto,
            parentOrganizationId: parentID.map { CommonV1.StringValue(value: $0.lowercasedString) }, metadata: metadata, version: version,
            createdAt: createdAt.timestamp, updatedAt: updatedAt.timestamp
        )
    }
}

extension UserRecord {
    var message: IdentityV1.User {
        IdentityV1.User(
            id: id.lowercasedString, firstName: firstName, lastName: lastName, email: email,
            phone: phone.map { CommonV1.StringValue(value: $0) }, status: status.proto, version: version,
            createdAt: createdAt.timestamp, updatedAt: updatedAt.timestamp
        )
    }
}

extension MembershipRecord {
    var message: IdentityV1.Membership {
        IdentityV1.Membership(
            id: id.lowercasedString, userId: userID.lowercasedString, organizationId: organizationID.lowercasedString,
            roleId: roleID.lowercasedString, roleName: roleName, status: status.proto, version: version,
            createdAt: createdAt.timestamp, updatedAt: updatedAt.timestamp
        )
    }
}

extension Member {
    var message: IdentityV1.Member {
        IdentityV1.Member(membership: membership.message, user: user.message)
    }
}

extension RoleRecord {
    var message: IdentityV1.Role {
        IdentityV1.Role(
            id: id.lowercasedString, name: name, organizationType: organizationKind.proto, description: description,
            isSystemRole: isSystemRole, permissions: permissions.sorted()
        )
    }
}

extension ServiceAccountRecord {
    var message: IdentityV1.ServiceAccount {
        IdentityV1.ServiceAccount(
            id: id.lowercasedString, organizationId: organizationID.lowercasedString, name: name,
            description: description.map { CommonV1.StringValue(value: $0) }, permissions: permissions.sorted(), status: status.proto,
            createdBy: createdBy.lowercasedString, secretRotatedAt: secretRotatedAt.timestamp, revokedAt: revokedAt?.timestamp,
            version: version, createdAt: createdAt.timestamp, updatedAt: updatedAt.timestamp
        )
    }
}

extension IssuedGrant {
    var message: IdentityV1.TokenGrant {
        IdentityV1.TokenGrant(
            accessToken: accessToken, accessTokenExpiresAt: CommonV1.Timestamp(seconds: accessTokenExpiresAt, nanos: 0),
            refreshToken: refreshToken, refreshTokenExpiresAt: refreshTokenExpiresAt.timestamp
        )
    }
}

extension IdentityV1.WhoAmIResponse {
    /// WhoAmI's answer for `principal` and a token that expires at `tokenExpiresAt` (seconds).
    init(_ principal: Principal, tokenExpiresAt: Int64) {
        self.init(
            principalType: principal.serviceAccount == nil ? .user : .serviceAccount, user: principal.user?.message,
            membership: principal.membership?.message, serviceAccount: principal.serviceAccount?.message,
            organization: principal.organization.message, permissions: principal.caller.permissions.sorted().map(\.rawValue),
            tokenExpiresAt: CommonV1.Timestamp(seconds: tokenExpiresAt, nanos: 0)
        )
    }
}

// MARK: - Enums

/// A domain enum with one wire value per case: the way back comes with it.
protocol WireEnum: CaseIterable {
    associatedtype Wire: Equatable
    var proto: Wire { get }
}

extension WireEnum {
    /// The case whose wire value is `proto`; nil for the default and unknown values.
    init?(_ proto: Wire) {
        guard let match = Self.allCases.first(where: { $0.proto == proto }) else { return nil }
        self = match
    }
}

extension UserStatus: WireEnum {
    var proto: IdentityV1.UserStatus {
        self == .active ? .active : .disabled
    }
}

extension MembershipStatus: WireEnum {
    var proto: IdentityV1.MembershipStatus {
        switch self {
        case .invited: .invited
        case .active: .active
        case .suspended: .suspended
        case .removed: .removed
        }
    }
}

extension ServiceAccountStatus: WireEnum {
    var proto: IdentityV1.ServiceAccountStatus {
        self == .active ? .active : .revoked
    }
}

extension TenantKind: WireEnum {
    var proto: IdentityV1.OrganizationType {
        switch self {
        case .platform: .platform
        case .vendor: .vendor
        case .corporate: .corporate
        }
    }
}

extension TenantStatus: WireEnum {
    var proto: IdentityV1.OrganizationStatus {
        switch self {
        case .pending: .pending
        case .active: .active
        case .suspended: .suspended
        case .rejected: .rejected
        }
    }
}
