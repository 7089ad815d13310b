public import Foundation
public import KaroKarRPC

/// The kind of tenant an organization is (DOMAIN.md section 1).
public enum TenantKind: String, Sendable, Hashable, CaseIterable, Codable {
    case platform = "PLATFORM"
    case vendor = "VENDOR"
    case corporate = "CORPORATE"
}

/// Where an organization stands in onboarding (DOMAIN.md section 4). Only `ACTIVE` organizations
/// take part in fleet and booking operations; contexts check ``Caller/organizationStatus`` and
/// answer FAILED_PRECONDITION / `ORGANIZATION_NOT_ACTIVE` for the caller's own organization.
public enum TenantStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case pending = "PENDING"
    case active = "ACTIVE"
    case suspended = "SUSPENDED"
    case rejected = "REJECTED"
}

/// The authenticated principal of a call, acting for one organization, with its effective
/// permissions resolved on the server (never trusted from the token). The authentication
/// interceptor attaches it; handlers read it with ``KaroKarRPC/ServerCallContext/caller``.
///
/// Who acts is always explicit: a ``Kind/user``, a ``Kind/serviceAccount``, the server itself
/// (``Caller/system``: reactions, sweeps, jobs), which reaches every tenant, or nobody in
/// particular (``Caller/anonymous``: a public method called without credentials), who reaches no
/// tenant and holds no permission. No missing value means "everything".
public struct Caller: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case user
        case serviceAccount
        /// The server itself, acting on no one's request (never attached to an RPC call).
        case system
        /// A call without credentials (public methods only).
        case anonymous
    }

    public let kind: Kind
    /// The user's or the service account's id.
    public let principalID: UUID
    public let organizationID: UUID
    public let organizationKind: TenantKind
    /// The caller's organization's status when its permissions were resolved (at most a few
    /// seconds old: the Identity context refreshes it when the status changes).
    public let organizationStatus: TenantStatus
    /// The membership a user's token was minted for; nil for service accounts.
    public let membershipID: UUID?
    public let permissions: Set<Permission>

    public init(
        kind: Kind, principalID: UUID, organizationID: UUID, organizationKind: TenantKind,
        organizationStatus: TenantStatus = .active, membershipID: UUID?, permissions: Set<Permission>
    ) {
        self.kind = kind
        self.principalID = principalID
        self.organizationID = organizationID
        self.organizationKind = organizationKind
        self.organizationStatus = organizationStatus
        self.membershipID = membershipID
        self.permissions = permissions
    }

    /// The server itself: every permission, every tenant. For reactions, sweeps and jobs only;
    /// the authorization interceptor never attaches it to a call.
    public static let system = Caller(
        kind: .system, principalID: UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
        organizationID: UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), organizationKind: .platform,
        membershipID: nil, permissions: Set(Permission.allCases)
    )

    /// A public method's caller without credentials: no tenant, no permission.
    public static let anonymous = Caller(
        kind: .anonymous, principalID: UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
        organizationID: UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), organizationKind: .corporate,
        organizationStatus: .pending, membershipID: nil, permissions: []
    )

    public var isSystem: Bool { kind == .system }

    public func has(_ permission: Permission) -> Bool {
        permissions.contains(permission)
    }

    /// Platform administrators (and the system) act across tenants (DOMAIN.md section 2).
    public var actsAcrossTenants: Bool {
        switch kind {
        case .system: true
        case .anonymous: false
        case .user, .serviceAccount: organizationKind == .platform
        }
    }

    /// True when the caller may see or change what belongs to `organization`.
    public func reaches(_ organization: UUID) -> Bool {
        kind != .anonymous && (actsAcrossTenants || organization == organizationID)
    }
}

extension CallAttributes {
    /// The authenticated caller (what ``ServerCallContext/caller`` reads).
    public var caller: Caller? {
        get { self[CallerKey.self] }
        set { self[CallerKey.self] = newValue }
    }
}

enum CallerKey: CallAttributeKey {
    typealias Value = Caller
}

extension ServerCallContext {
    /// The authenticated caller; nil only for public methods called without credentials.
    public var caller: Caller? {
        get { attributes.caller }
        set { attributes.caller = newValue }
    }

    /// The caller, or UNAUTHENTICATED (for handlers of methods that are never public).
    public func requireCaller() throws(RPCError) -> Caller {
        guard let caller else { throw RPCError(.unauthenticated, "this method needs credentials") }
        return caller
    }
}
