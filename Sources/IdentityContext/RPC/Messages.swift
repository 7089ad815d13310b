import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres

/// Records to messages. Nothing here ever carries a credential.
extension OrganizationRecord {
    var message: IdentityV1.Organization {
        IdentityV1.Organization(
            id: id.lowercased, name: name, type: kind.proto, status: status.proto,
            parentOrganizationId: parentID.map { CommonV1.StringValue(value: $0.lowercased) }, metadata: metadata, version: version,
            createdAt: createdAt.timestamp, updatedAt: updatedAt.timestamp
        )
    }
}

extension UserRecord {
    var message: IdentityV1.User {
        IdentityV1.User(
            id: id.lowercased, firstName: firstName, lastName: lastName, email: email,
            phone: phone.map { CommonV1.StringValue(value: $0) }, status: status.proto, version: version,
            createdAt: createdAt.timestamp, updatedAt: updatedAt.timestamp
        )
    }

    /// As the organization holding a membership with `status` may see the user.
    func message(seenThrough status: MembershipStatus) -> IdentityV1.User {
        (status == .invited ? invitedView : self).message
    }
}

extension MembershipRecord {
    var message: IdentityV1.Membership {
        IdentityV1.Membership(
            id: id.lowercased, userId: userID.lowercased, organizationId: organizationID.lowercased, roleId: roleID.lowercased,
            roleName: roleName, status: status.proto, version: version, createdAt: createdAt.timestamp, updatedAt: updatedAt.timestamp
        )
    }
}

extension RoleRecord {
    var message: IdentityV1.Role {
        IdentityV1.Role(
            id: id.lowercased, name: name, organizationType: organizationKind.proto, description: description,
            isSystemRole: isSystemRole, permissions: permissions.sorted()
        )
    }
}

extension ServiceAccountRecord {
    var message: IdentityV1.ServiceAccount {
        IdentityV1.ServiceAccount(
            id: id.lowercased, organizationId: organizationID.lowercased, name: name,
            description: description.map { CommonV1.StringValue(value: $0) }, permissions: permissions.sorted(), status: status.proto,
            createdBy: createdBy.lowercased, secretRotatedAt: secretRotatedAt.timestamp, revokedAt: revokedAt?.timestamp,
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
