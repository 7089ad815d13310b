/// What a caller may do: `resource.action` (DOMAIN.md section 4). Authorization is by permission,
/// never by role name; roles are bundles of these, seeded by the Identity context.
public enum Permission: String, CaseIterable, Sendable, Hashable, Comparable {
    case organizationRead = "organization.read"
    /// Approve, reject, suspend and reinstate organizations; moderation; the dashboard.
    case organizationApprove = "organization.approve"
    /// Add, change the role of, and remove members of the own organization; service accounts.
    case memberManage = "member.manage"
    case memberRead = "member.read"
    case vehicleCreate = "vehicle.create"
    case vehicleRead = "vehicle.read"
    /// Details, documents, maintenance.
    case vehicleUpdate = "vehicle.update"
    /// Suspend, lift, retire, block.
    case vehicleSuspend = "vehicle.suspend"
    /// The marketplace search.
    case vehicleSearch = "vehicle.search"
    case bookingCreate = "booking.create"
    case bookingSubmit = "booking.submit"
    case bookingCancel = "booking.cancel"
    case bookingRead = "booking.read"
    /// An employee's booking for themselves, within the corporate's allocation (DOMAIN.md 6.1).
    case bookingCreateOwn = "booking.create_own"
    case bookingSubmitOwn = "booking.submit_own"
    case bookingCancelOwn = "booking.cancel_own"
    /// Only bookings the caller requested (employees).
    case bookingReadOwn = "booking.read_own"
    /// Approve or reject (vendors).
    case bookingApprove = "booking.approve"
    case bookingAssign = "booking.assign"
    case bookingActivate = "booking.activate"
    case bookingComplete = "booking.complete"
    case bookingTerminate = "booking.terminate"
    /// Assign corporate-owned vehicles directly.
    case assignmentCreate = "assignment.create"
    /// Reassign, close.
    case assignmentManage = "assignment.manage"
    /// Every assignment of the organization.
    case assignmentRead = "assignment.read"
    /// Only assignments to the caller (employees).
    case assignmentReadOwn = "assignment.read_own"
    /// Accept or reject one's own assignment.
    case assignmentAccept = "assignment.accept"
    /// Set the corporate's self-booking allocations (DOMAIN.md 6.1).
    case allocationManage = "allocation.manage"
    /// Every allocation of the organization and every employee's usage.
    case allocationRead = "allocation.read"
    /// Only the caller's own allocation and usage (employees).
    case allocationReadOwn = "allocation.read_own"
    case verificationSubmit = "verification.submit"
    case verificationReview = "verification.review"
    case verificationRead = "verification.read"
    /// Own organization's records; platform administrators read all.
    case auditRead = "audit.read"
    /// Own inbox and preferences.
    case notificationRead = "notification.read"
    /// Operating the event platform: consumer lag, dead letters (replay, discard). Platform
    /// administrators only (issue 17).
    case eventsManage = "events.manage"

    public static func < (lhs: Permission, rhs: Permission) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}
