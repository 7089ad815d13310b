/// One rule's message, per channel: `title` is the e-mail's subject, the push title and the
/// in-app title; `body` is the e-mail's and the in-app body; `short` is the link-free plain text of
/// SMS and push. Mustache (https://mustache.github.io), plain text (no HTML escaping): the
/// context holds `recipient.firstName`, `recipient.lastName` and the event's facts
/// (``EventFacts``).
struct MessageTemplate: Sendable, Hashable {
    let title: String
    let body: String
    let short: String
}

/// The templates, by the rules' template names: every rule has one (a test renders them all).
enum NotificationTemplates {
    /// Appended to every e-mail body.
    static let emailFooter = "\n\n-- \nKaroKar. You receive this because of your role in your organization; choose your channels in the app's notification preferences."

    static let all: [String: MessageTemplate] = [
        "booking_requested": MessageTemplate(
            title: "New booking request for vehicle {{vehicleId}}",
            body: """
                Hello {{recipient.firstName}},

                A corporate customer asks to book vehicle {{vehicleId}} for {{period}}.
                Booking: {{bookingId}}
                Please approve or reject the request before it expires.
                """,
            short: "KaroKar: new booking request {{bookingId}} for vehicle {{vehicleId}}, {{period}}. Approve or reject it in the app."
        ),
        "booking_approved": MessageTemplate(
            title: "Your booking {{bookingId}} was approved",
            body: """
                Hello {{recipient.firstName}},

                The vendor approved your booking {{bookingId}} of vehicle {{vehicleId}} for {{period}}.{{#notes}}
                Vendor's notes: {{notes}}{{/notes}}
                """,
            short: "KaroKar: booking {{bookingId}} approved, vehicle {{vehicleId}}, {{period}}."
        ),
        "booking_rejected": MessageTemplate(
            title: "Your booking {{bookingId}} was rejected",
            body: """
                Hello {{recipient.firstName}},

                The vendor rejected your booking {{bookingId}} of vehicle {{vehicleId}} for {{period}}.
                Reason: {{reason}}
                """,
            short: "KaroKar: booking {{bookingId}} rejected: {{reason}}"
        ),
        "booking_assigned": MessageTemplate(
            title: "A vehicle is assigned to you",
            body: """
                Hello {{recipient.firstName}},

                Vehicle {{vehicleId}} is assigned to you for {{period}} (booking {{bookingId}}).
                Please accept or reject the assignment in the app.
                """,
            short: "KaroKar: vehicle {{vehicleId}} assigned to you for {{period}}. Accept or reject it in the app."
        ),
        "booking_cancelled": MessageTemplate(
            title: "Booking request {{bookingId}} was cancelled",
            body: """
                Hello {{recipient.firstName}},

                The customer cancelled booking {{bookingId}} of vehicle {{vehicleId}} for {{period}}.{{#reason}}
                Reason: {{reason}}{{/reason}}
                """,
            short: "KaroKar: booking {{bookingId}} cancelled."
        ),
        "assignment_created": MessageTemplate(
            title: "A vehicle is assigned to you",
            body: """
                Hello {{recipient.firstName}},

                Vehicle {{vehicleId}} is assigned to you for {{period}} (assignment {{assignmentId}}).
                Please accept or reject the assignment in the app.
                """,
            short: "KaroKar: vehicle {{vehicleId}} assigned to you for {{period}}. Accept or reject it in the app."
        ),
        "vehicle_suspended": MessageTemplate(
            title: "Vehicle {{vehicleId}} is suspended",
            body: """
                Hello {{recipient.firstName}},

                Vehicle {{vehicleId}} is suspended for {{period}} (reason: {{reason}}).{{#notes}}
                Notes: {{notes}}{{/notes}}
                Bookings on it during the suspension may need to change.
                """,
            short: "KaroKar: vehicle {{vehicleId}} suspended for {{period}} ({{reason}})."
        ),
        "organization_approved": MessageTemplate(
            title: "Your organization is approved",
            body: """
                Hello {{recipient.firstName}},

                Your organization {{organizationId}} is approved and active on KaroKar.{{#notes}}
                Notes: {{notes}}{{/notes}}
                """,
            short: "KaroKar: your organization is approved."
        ),
        "organization_rejected": MessageTemplate(
            title: "Your organization's application was rejected",
            body: """
                Hello {{recipient.firstName}},

                The application of your organization {{organizationId}} was rejected.
                Reason: {{notes}}
                """,
            short: "KaroKar: your organization's application was rejected: {{notes}}"
        ),
        "verification_approved": MessageTemplate(
            title: "Verification approved: {{verificationType}}",
            body: """
                Hello {{recipient.firstName}},

                The {{verificationType}} verification of {{subjectKind}} {{subjectId}} is approved.{{#expiresAt}}
                It expires at {{expiresAt}}.{{/expiresAt}}
                """,
            short: "KaroKar: {{verificationType}} verification approved."
        ),
        "verification_rejected": MessageTemplate(
            title: "Verification rejected: {{verificationType}}",
            body: """
                Hello {{recipient.firstName}},

                The {{verificationType}} verification of {{subjectKind}} {{subjectId}} was rejected.
                Reason: {{reason}}
                """,
            short: "KaroKar: {{verificationType}} verification rejected: {{reason}}"
        ),
        "verification_expired": MessageTemplate(
            title: "Verification expired: {{verificationType}}",
            body: """
                Hello {{recipient.firstName}},

                The {{verificationType}} verification of {{subjectKind}} {{subjectId}} expired at {{expiredAt}}.
                Submit a new one to keep the {{subjectKind}} in service.
                """,
            short: "KaroKar: {{verificationType}} verification of {{subjectKind}} {{subjectId}} expired. Submit a new one."
        ),
        "verification_revoked": MessageTemplate(
            title: "Verification revoked: {{verificationType}}",
            body: """
                Hello {{recipient.firstName}},

                The {{verificationType}} verification of {{subjectKind}} {{subjectId}} was revoked.
                Reason: {{reason}}
                """,
            short: "KaroKar: {{verificationType}} verification revoked: {{reason}}"
        ),
    ]
}
