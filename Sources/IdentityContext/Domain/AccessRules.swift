import KaroKarKernel

/// The seeded system roles' names (their permissions are seeded by ``IdentityMigrations``,
/// exactly DOMAIN.md's table).
enum SystemRole {
    /// The role of an organization's administrators: the first member gets it at registration,
    /// and the last one cannot be removed or demoted.
    static func administrator(of kind: TenantKind) -> String {
        switch kind {
        case .platform: "PLATFORM_ADMIN"
        case .vendor: "VENDOR_ADMIN"
        case .corporate: "CORPORATE_ADMIN"
        }
    }

    static let administratorNames: Set<String> = Set(TenantKind.allCases.map(administrator(of:)))
}

/// What a member may do, given their role and their organization's status. Decided (the
/// context's README): a `PENDING` organization is onboarding (its team, its documents, its
/// status); a `SUSPENDED` one keeps what running bookings need but starts nothing new; a
/// `REJECTED` one can only read the decision.
enum EffectivePermissions {
    static let onboarding: Set<Permission> = [
        .organizationRead, .memberRead, .memberManage, .verificationSubmit, .verificationRead, .notificationRead, .auditRead,
    ]
    static let startsNewWork: Set<Permission> = [
        .vehicleCreate, .vehicleSearch, .bookingCreate, .bookingSubmit, .bookingCreateOwn, .bookingSubmitOwn, .bookingApprove,
        .assignmentCreate, .allocationManage,
    ]
    static let readDecision: Set<Permission> = [.organizationRead, .notificationRead]

    static func resolve(_ granted: Set<Permission>, organizationStatus: TenantStatus) -> Set<Permission> {
        switch organizationStatus {
        case .active: granted
        case .pending: granted.intersection(onboarding)
        case .suspended: granted.subtracting(startsNewWork)
        case .rejected: granted.intersection(readDecision)
        }
    }
}

/// Organization status changes, driven by Administration's decisions (its events).
enum OrganizationTransition {
    /// The status an Administration event moves an organization to, and the statuses it may
    /// come from; nil for events that are not decisions.
    static func target(of eventType: String) -> (to: TenantStatus, from: Set<TenantStatus>)? {
        switch eventType {
        case "organization.approved": (.active, [.pending])
        case "organization.rejected": (.rejected, [.pending])
        case "organization.suspended": (.suspended, [.active])
        case "organization.reinstated": (.active, [.suspended])
        default: nil
        }
    }

    static let decisionEvents = ["organization.approved", "organization.rejected", "organization.suspended", "organization.reinstated"]
}
