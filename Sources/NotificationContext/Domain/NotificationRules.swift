import Foundation

/// Who an event concerns, named by the event's facts (``EventFacts``).
enum RecipientRule: Sendable, Hashable {
    /// The user whose id is the fact `user`, as a member of the organization in the fact `organization`.
    case user(_ user: String, in: String)
    /// The members of the organization in the fact `organization` holding one of `roles`.
    case members(of: String, roles: [String])
    /// The members holding one of `roles` of every corporate with an open booking (not rejected,
    /// completed, terminated nor cancelled) on the vehicle in the fact `vehicle`.
    case bookingCorporates(vehicle: String, roles: [String])

    /// Whether finding the recipients reads the bookings Notification learned from events.
    var readsLearnedBookings: Bool {
        if case .bookingCorporates = self { return true }
        return false
    }
}

/// One rule: an event type, whom it concerns, on which channels, with which template.
struct NotificationRule: Sendable, Hashable {
    let eventType: String
    /// The template's name (``NotificationTemplates``), also stored on each delivery.
    let template: String
    /// The entity the notification is about: its type and the fact holding its id.
    let subjectType: String
    let subjectFact: String
    let recipients: [RecipientRule]
    /// Channels besides in-app (always on), when the server has them configured.
    let channels: [NotificationChannel]
    /// Facts that must be `true` for the rule to apply, and facts that must not be.
    var when: [String] = []
    var unless: [String] = []
}

/// The rules (DOMAIN.md section 9): data, read by the planner; an event type not here notifies
/// nobody. Roles are Identity's system role names.
enum NotificationRules {
    static let vendorDesk = ["VENDOR_ADMIN", "VENDOR_STAFF"]
    static let ownerAdmins = ["VENDOR_ADMIN", "CORPORATE_ADMIN"]
    static let corporateDesk = ["CORPORATE_ADMIN", "FLEET_MANAGER"]
    static let everyChannel: [NotificationChannel] = [.email, .sms, .push]
    static let emailAndPush: [NotificationChannel] = [.email, .push]

    static let all: [NotificationRule] = [
        // Bookings: the vendor's desk decides requests; the requester hears the decision; the
        // employee hears of the vehicle they are given (an employee's own booking: they hear
        // of the approval, which assigns it to them at once).
        NotificationRule(
            eventType: "booking.requested", template: "booking_requested", subjectType: "booking", subjectFact: "bookingId",
            recipients: [.members(of: "vendorOrganizationId", roles: vendorDesk)], channels: emailAndPush
        ),
        NotificationRule(
            eventType: "booking.approved", template: "booking_approved", subjectType: "booking", subjectFact: "bookingId",
            recipients: [.user("requestedBy", in: "corporateOrganizationId")], channels: everyChannel
        ),
        NotificationRule(
            eventType: "booking.rejected", template: "booking_rejected", subjectType: "booking", subjectFact: "bookingId",
            recipients: [.user("requestedBy", in: "corporateOrganizationId")], channels: everyChannel
        ),
        NotificationRule(
            eventType: "booking.assigned", template: "booking_assigned", subjectType: "booking", subjectFact: "bookingId",
            recipients: [.user("employeeId", in: "corporateOrganizationId")], channels: everyChannel, unless: ["selfBooking"]
        ),
        NotificationRule(
            eventType: "booking.cancelled", template: "booking_cancelled", subjectType: "booking", subjectFact: "bookingId",
            recipients: [.members(of: "vendorOrganizationId", roles: vendorDesk)], channels: [.email], when: ["wasRequested"]
        ),
        // Assignments made without a `booking.assigned` (corporate-owned vehicles,
        // reassignments): the employee. The others were told by `booking.assigned`.
        NotificationRule(
            eventType: "assignment.created", template: "assignment_created", subjectType: "assignment", subjectFact: "assignmentId",
            recipients: [.user("employeeId", in: "corporateOrganizationId")], channels: everyChannel, when: ["direct"]
        ),
        // Vehicles: the owner's administrators and the corporates booking it.
        NotificationRule(
            eventType: "vehicle.suspended", template: "vehicle_suspended", subjectType: "vehicle", subjectFact: "vehicleId",
            recipients: [.members(of: "organizationId", roles: ownerAdmins), .bookingCorporates(vehicle: "vehicleId", roles: corporateDesk)],
            channels: everyChannel
        ),
        // Onboarding: the applicant (the organization's first administrator).
        NotificationRule(
            eventType: "organization.approved", template: "organization_approved", subjectType: "organization",
            subjectFact: "organizationId", recipients: [.user("applicantUserId", in: "organizationId")], channels: [.email]
        ),
        NotificationRule(
            eventType: "organization.rejected", template: "organization_rejected", subjectType: "organization",
            subjectFact: "organizationId", recipients: [.user("applicantUserId", in: "organizationId")], channels: [.email]
        ),
        // Verifications: the subject's organization's administrators.
        NotificationRule(
            eventType: "verification.approved", template: "verification_approved", subjectType: "verification",
            subjectFact: "verificationId", recipients: [.members(of: "organizationId", roles: ownerAdmins)], channels: [.email]
        ),
        NotificationRule(
            eventType: "verification.rejected", template: "verification_rejected", subjectType: "verification",
            subjectFact: "verificationId", recipients: [.members(of: "organizationId", roles: ownerAdmins)], channels: emailAndPush
        ),
        NotificationRule(
            eventType: "verification.expired", template: "verification_expired", subjectType: "verification",
            subjectFact: "verificationId", recipients: [.members(of: "organizationId", roles: ownerAdmins)], channels: everyChannel
        ),
        NotificationRule(
            eventType: "verification.revoked", template: "verification_revoked", subjectType: "verification",
            subjectFact: "verificationId", recipients: [.members(of: "organizationId", roles: ownerAdmins)], channels: everyChannel
        ),
    ]

    static let byEventType: [String: NotificationRule] = Dictionary(uniqueKeysWithValues: all.map { ($0.eventType, $0) })

    /// Recipients one rule's clause yields at most (a safety bound on a huge organization).
    static let maximumRecipientsPerClause = 1000
}
