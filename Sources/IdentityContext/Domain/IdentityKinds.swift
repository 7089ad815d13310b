import KaroKarKernel
import KaroKarMessages

/// Statuses as stored (upper-case names, the database's CHECK constraints list the same) and as
/// sent (the proto enums). One mapping each, here.
enum UserStatus: String, Sendable, Hashable, CaseIterable {
    case active = "ACTIVE"
    case disabled = "DISABLED"

    var proto: IdentityV1.UserStatus {
        self == .active ? .active : .disabled
    }

    init?(_ proto: IdentityV1.UserStatus) {
        switch proto {
        case .active: self = .active
        case .disabled: self = .disabled
        default: return nil
        }
    }
}

enum MembershipStatus: String, Sendable, Hashable, CaseIterable {
    case invited = "INVITED"
    case active = "ACTIVE"
    case suspended = "SUSPENDED"
    case removed = "REMOVED"

    var proto: IdentityV1.MembershipStatus {
        switch self {
        case .invited: .invited
        case .active: .active
        case .suspended: .suspended
        case .removed: .removed
        }
    }

    var event: EventsV1.MembershipStatus {
        EventsV1.MembershipStatus(rawValue: proto.rawValue)
    }

    init?(_ proto: IdentityV1.MembershipStatus) {
        guard let match = Self.allCases.first(where: { $0.proto == proto }) else { return nil }
        self = match
    }
}

enum ServiceAccountStatus: String, Sendable, Hashable, CaseIterable {
    case active = "ACTIVE"
    case revoked = "REVOKED"

    var proto: IdentityV1.ServiceAccountStatus {
        self == .active ? .active : .revoked
    }

    init?(_ proto: IdentityV1.ServiceAccountStatus) {
        switch proto {
        case .active: self = .active
        case .revoked: self = .revoked
        default: return nil
        }
    }
}

extension TenantKind {
    var proto: IdentityV1.OrganizationType {
        switch self {
        case .platform: .platform
        case .vendor: .vendor
        case .corporate: .corporate
        }
    }

    var event: EventsV1.OrganizationType {
        EventsV1.OrganizationType(rawValue: proto.rawValue)
    }

    init?(_ proto: IdentityV1.OrganizationType) {
        guard let match = Self.allCases.first(where: { $0.proto == proto }) else { return nil }
        self = match
    }
}

extension TenantStatus {
    var proto: IdentityV1.OrganizationStatus {
        switch self {
        case .pending: .pending
        case .active: .active
        case .suspended: .suspended
        case .rejected: .rejected
        }
    }

    init?(_ proto: IdentityV1.OrganizationStatus) {
        guard let match = Self.allCases.first(where: { $0.proto == proto }) else { return nil }
        self = match
    }
}
