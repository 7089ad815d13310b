import Foundation

/// DOMAIN.md's "System roles and permissions" table, transcribed by hand for the tests (the
/// migration seeds its own copy; the tests compare the two).
enum DomainRoleTable {
    static let roles: [String: (type: String, permissions: Set<String>)] = [
        "PLATFORM_ADMIN": ("PLATFORM", [
            "organization.read", "organization.approve", "member.manage", "member.read", "vehicle.read", "vehicle.update",
            "vehicle.suspend", "vehicle.search", "booking.read", "booking.terminate", "assignment.read", "verification.review",
            "verification.read", "audit.read", "notification.read", "allocation.read",
            // Operating the event platform (issue 17): consumer lag and dead letters.
            "events.manage",
        ]),
        "VENDOR_ADMIN": ("VENDOR", [
            "organization.read", "member.manage", "member.read", "vehicle.create", "vehicle.read", "vehicle.update", "vehicle.suspend",
            "booking.read", "booking.approve", "verification.submit", "verification.read", "audit.read", "notification.read",
        ]),
        "VENDOR_STAFF": ("VENDOR", [
            "organization.read", "member.read", "vehicle.read", "vehicle.update", "booking.read", "booking.approve",
            "verification.submit", "verification.read", "notification.read",
        ]),
        "CORPORATE_ADMIN": ("CORPORATE", [
            "organization.read", "member.manage", "member.read", "vehicle.create", "vehicle.read", "vehicle.update", "vehicle.suspend",
            "vehicle.search", "booking.create", "booking.submit", "booking.cancel", "booking.read", "booking.assign",
            "booking.activate", "booking.complete", "booking.terminate", "assignment.create", "assignment.manage", "assignment.read",
            "verification.submit", "verification.read", "audit.read", "notification.read", "allocation.manage", "allocation.read",
        ]),
        "FLEET_MANAGER": ("CORPORATE", [
            "organization.read", "member.read", "vehicle.create", "vehicle.read", "vehicle.update", "vehicle.search",
            "booking.create", "booking.submit", "booking.cancel", "booking.read", "booking.assign", "booking.activate",
            "booking.complete", "booking.terminate", "assignment.create", "assignment.manage", "assignment.read",
            "verification.submit", "verification.read", "notification.read", "allocation.manage", "allocation.read",
        ]),
        "EMPLOYEE": ("CORPORATE", [
            "organization.read", "vehicle.read", "assignment.read_own", "assignment.accept", "notification.read",
            // "own, within allocation (6.1)": an employee's bookings for themselves, and their allocation.
            "booking.create_own", "booking.submit_own", "booking.cancel_own", "booking.read_own", "allocation.read_own",
        ]),
    ]

    static let names = roles.keys.sorted()
}
