/// What a method needs from its caller.
public enum MethodAccess: Sendable, Hashable {
    /// Callable without credentials (credentials that are sent are still checked).
    case `public`
    /// Any authenticated principal; the handler scopes what it returns to the caller.
    case authenticated
    case permission(Permission)
    /// At least one of these; the handler scopes by which one the caller holds.
    case anyOf(Set<Permission>)

    /// Whether `caller` (nil: no credentials) may call a method with this requirement.
    public func admits(_ caller: Caller?) -> Bool {
        switch self {
        case .public: true
        case .authenticated: caller != nil
        case .permission(let permission): caller?.has(permission) ?? false
        case .anyOf(let permissions): caller.map { !$0.permissions.isDisjoint(with: permissions) } ?? false
        }
    }
}

/// Every RPC's requirement, in one table (issue 4: "every RPC declares the permission it needs in
/// one table"), keyed by wire path. The authentication interceptor enforces it before a request
/// is decoded; a method missing here is refused (and a test fails). Handlers still scope data to
/// the caller's tenant: a permission says what kind of thing a caller may do, not to whose data.
public enum AccessPolicy {
    public static func requirement(for path: String) -> MethodAccess? {
        table[path]
    }

    public static let table: [String: MethodAccess] = [
        // karokar.rpc.v1: health and listing are public (load balancers, tools); echo is for measurements.
        "/karokar.rpc.v1.HealthService/Check": .public,
        "/karokar.rpc.v1.ReflectionService/ListServices": .public,
        "/karokar.rpc.v1.ReflectionService/DescribeType": .public,
        "/karokar.rpc.v1.DiagnosticsService/Echo": .public,

        // karokar.administration.v1.AdministrationService
        "/karokar.administration.v1.AdministrationService/ApproveOrganization": .permission(.organizationApprove),
        "/karokar.administration.v1.AdministrationService/RejectOrganization": .permission(.organizationApprove),
        "/karokar.administration.v1.AdministrationService/SuspendOrganization": .permission(.organizationApprove),
        "/karokar.administration.v1.AdministrationService/ReinstateOrganization": .permission(.organizationApprove),
        "/karokar.administration.v1.AdministrationService/ListPendingApprovals": .permission(.organizationApprove),
        "/karokar.administration.v1.AdministrationService/GetApprovalHistory": .permission(.organizationApprove),
        "/karokar.administration.v1.AdministrationService/GetDashboardCounts": .permission(.organizationApprove),
        "/karokar.administration.v1.AdministrationService/SuspendVehicle": .permission(.organizationApprove),
        "/karokar.administration.v1.AdministrationService/BlockVehicle": .permission(.organizationApprove),
        "/karokar.administration.v1.AdministrationService/TerminateBooking": .permission(.organizationApprove),
        "/karokar.administration.v1.AdministrationService/DisableUser": .permission(.organizationApprove),
        "/karokar.administration.v1.AdministrationService/ListModerationActions": .permission(.organizationApprove),

        // karokar.assignment.v1.AssignmentService
        "/karokar.assignment.v1.AssignmentService/CreateAssignment": .permission(.assignmentCreate),
        "/karokar.assignment.v1.AssignmentService/AcceptAssignment": .permission(.assignmentAccept),
        "/karokar.assignment.v1.AssignmentService/RejectAssignment": .permission(.assignmentAccept),
        "/karokar.assignment.v1.AssignmentService/ReassignAssignment": .permission(.assignmentManage),
        "/karokar.assignment.v1.AssignmentService/ActivateAssignment": .permission(.assignmentManage),
        "/karokar.assignment.v1.AssignmentService/CompleteAssignment": .permission(.assignmentManage),
        "/karokar.assignment.v1.AssignmentService/CloseAssignment": .permission(.assignmentManage),
        "/karokar.assignment.v1.AssignmentService/GetAssignment": .anyOf([.assignmentRead, .assignmentReadOwn]),
        "/karokar.assignment.v1.AssignmentService/ListAssignments": .anyOf([.assignmentRead, .assignmentReadOwn]),
        "/karokar.assignment.v1.AssignmentService/ListMyAssignments": .anyOf([.assignmentRead, .assignmentReadOwn]),

        // karokar.audit.v1.AuditService
        "/karokar.audit.v1.AuditService/QueryAuditRecords": .permission(.auditRead),
        "/karokar.audit.v1.AuditService/GetAuditRecord": .permission(.auditRead),
        "/karokar.audit.v1.AuditService/VerifyChain": .permission(.auditRead),

        // karokar.booking.v1.BookingService
        "/karokar.booking.v1.BookingService/CreateBooking": .permission(.bookingCreate),
        "/karokar.booking.v1.BookingService/SubmitBooking": .permission(.bookingSubmit),
        "/karokar.booking.v1.BookingService/ApproveBooking": .permission(.bookingApprove),
        "/karokar.booking.v1.BookingService/RejectBooking": .permission(.bookingApprove),
        "/karokar.booking.v1.BookingService/AssignBooking": .permission(.bookingAssign),
        "/karokar.booking.v1.BookingService/ActivateBooking": .permission(.bookingActivate),
        "/karokar.booking.v1.BookingService/CompleteBooking": .permission(.bookingComplete),
        "/karokar.booking.v1.BookingService/TerminateBooking": .permission(.bookingTerminate),
        "/karokar.booking.v1.BookingService/CancelBooking": .permission(.bookingCancel),
        "/karokar.booking.v1.BookingService/GetBooking": .permission(.bookingRead),
        "/karokar.booking.v1.BookingService/ListCorporateBookings": .permission(.bookingRead),
        "/karokar.booking.v1.BookingService/ListVendorBookingRequests": .permission(.bookingRead),

        // karokar.fleet.v1.FleetService
        "/karokar.fleet.v1.FleetService/RegisterVehicle": .permission(.vehicleCreate),
        "/karokar.fleet.v1.FleetService/GetVehicle": .permission(.vehicleRead),
        "/karokar.fleet.v1.FleetService/ListFleet": .permission(.vehicleRead),
        "/karokar.fleet.v1.FleetService/UpdateVehicleDetails": .permission(.vehicleUpdate),
        "/karokar.fleet.v1.FleetService/ActivateVehicle": .permission(.vehicleUpdate),
        "/karokar.fleet.v1.FleetService/RetireVehicle": .permission(.vehicleSuspend),
        "/karokar.fleet.v1.FleetService/ScheduleMaintenance": .permission(.vehicleUpdate),
        "/karokar.fleet.v1.FleetService/StartMaintenance": .permission(.vehicleUpdate),
        "/karokar.fleet.v1.FleetService/CompleteMaintenance": .permission(.vehicleUpdate),
        "/karokar.fleet.v1.FleetService/CancelMaintenance": .permission(.vehicleUpdate),
        "/karokar.fleet.v1.FleetService/GetMaintenance": .permission(.vehicleRead),
        "/karokar.fleet.v1.FleetService/ListMaintenance": .permission(.vehicleRead),
        "/karokar.fleet.v1.FleetService/SuspendVehicle": .permission(.vehicleSuspend),
        "/karokar.fleet.v1.FleetService/LiftSuspension": .permission(.vehicleSuspend),
        "/karokar.fleet.v1.FleetService/ListSuspensions": .permission(.vehicleRead),
        "/karokar.fleet.v1.FleetService/PlaceBlock": .permission(.vehicleSuspend),
        "/karokar.fleet.v1.FleetService/RemoveBlock": .permission(.vehicleSuspend),
        "/karokar.fleet.v1.FleetService/ListBlocks": .permission(.vehicleRead),
        "/karokar.fleet.v1.FleetService/AddVehicleDocument": .permission(.vehicleUpdate),
        "/karokar.fleet.v1.FleetService/ListVehicleDocuments": .permission(.vehicleRead),
        "/karokar.fleet.v1.FleetService/RunDocumentExpirySweep": .permission(.vehicleSuspend),
        "/karokar.fleet.v1.FleetService/SearchAvailableVehicles": .permission(.vehicleSearch),

        // karokar.fleet.v1.AvailabilityService
        "/karokar.fleet.v1.AvailabilityService/CheckAvailability": .permission(.vehicleRead),
        "/karokar.fleet.v1.AvailabilityService/CreateAvailabilityRecord": .permission(.vehicleSuspend),
        "/karokar.fleet.v1.AvailabilityService/ReleaseAvailability": .permission(.vehicleSuspend),
        "/karokar.fleet.v1.AvailabilityService/ChangeAvailabilityStatus": .permission(.vehicleSuspend),
        "/karokar.fleet.v1.AvailabilityService/GetVehicleTimeline": .permission(.vehicleRead),

        // karokar.identity.v1.IdentityService: registration, login and the two token exchanges are
        // the only public business methods (their credentials are in the request).
        "/karokar.identity.v1.IdentityService/RegisterOrganization": .public,
        "/karokar.identity.v1.IdentityService/Login": .public,
        "/karokar.identity.v1.IdentityService/RefreshToken": .public,
        "/karokar.identity.v1.IdentityService/Logout": .authenticated,
        "/karokar.identity.v1.IdentityService/WhoAmI": .authenticated,
        "/karokar.identity.v1.IdentityService/ListMyMemberships": .authenticated,
        "/karokar.identity.v1.IdentityService/ChangePassword": .authenticated,
        "/karokar.identity.v1.IdentityService/CreateUser": .permission(.memberManage),
        // Own user for anyone; member.read for others (checked by the handler).
        "/karokar.identity.v1.IdentityService/GetUser": .authenticated,
        "/karokar.identity.v1.IdentityService/ListUsers": .permission(.memberRead),
        "/karokar.identity.v1.IdentityService/DisableUser": .permission(.memberManage),
        "/karokar.identity.v1.IdentityService/ListMembers": .permission(.memberRead),
        "/karokar.identity.v1.IdentityService/AddMember": .permission(.memberManage),
        "/karokar.identity.v1.IdentityService/ChangeMemberRole": .permission(.memberManage),
        "/karokar.identity.v1.IdentityService/RemoveMember": .permission(.memberManage),
        "/karokar.identity.v1.IdentityService/ListRoles": .permission(.organizationRead),
        "/karokar.identity.v1.IdentityService/GetOrganization": .permission(.organizationRead),
        "/karokar.identity.v1.IdentityService/ListOrganizations": .permission(.organizationRead),
        "/karokar.identity.v1.IdentityService/CreateServiceAccount": .permission(.memberManage),
        "/karokar.identity.v1.IdentityService/GetServiceAccount": .permission(.memberRead),
        "/karokar.identity.v1.IdentityService/ListServiceAccounts": .permission(.memberRead),
        "/karokar.identity.v1.IdentityService/RotateServiceAccountSecret": .permission(.memberManage),
        "/karokar.identity.v1.IdentityService/RevokeServiceAccount": .permission(.memberManage),
        "/karokar.identity.v1.IdentityService/ExchangeServiceAccountToken": .public,

        // karokar.notification.v1.NotificationService
        "/karokar.notification.v1.NotificationService/ListInbox": .permission(.notificationRead),
        "/karokar.notification.v1.NotificationService/GetUnreadCount": .permission(.notificationRead),
        "/karokar.notification.v1.NotificationService/MarkRead": .permission(.notificationRead),
        "/karokar.notification.v1.NotificationService/MarkAllRead": .permission(.notificationRead),
        "/karokar.notification.v1.NotificationService/GetPreferences": .permission(.notificationRead),
        "/karokar.notification.v1.NotificationService/SetPreferences": .permission(.notificationRead),
        "/karokar.notification.v1.NotificationService/ListDeliveries": .permission(.notificationRead),

        // karokar.verification.v1.VerificationService
        "/karokar.verification.v1.VerificationService/SubmitVerification": .permission(.verificationSubmit),
        "/karokar.verification.v1.VerificationService/ApproveVerification": .permission(.verificationReview),
        "/karokar.verification.v1.VerificationService/RejectVerification": .permission(.verificationReview),
        "/karokar.verification.v1.VerificationService/RevokeVerification": .permission(.verificationReview),
        "/karokar.verification.v1.VerificationService/RunVerificationExpirySweep": .permission(.verificationReview),
        "/karokar.verification.v1.VerificationService/GetVerification": .permission(.verificationRead),
        "/karokar.verification.v1.VerificationService/ListVerifications": .permission(.verificationRead),
        "/karokar.verification.v1.VerificationService/ListVerificationProviders": .permission(.verificationRead),
    ]
}
