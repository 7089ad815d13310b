import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarProto

/// The `assignment.*` events (DOMAIN.md section 7), built from the saved record: aggregate the
/// assignment, at its version after the change.
enum AssignmentEvents {
    static func created(_ a: AssignmentRecord) -> EventDraft {
        draft("assignment.created", a, .assignmentCreated(EventsV1.AssignmentCreated(
            assignmentId: a.id.lowercasedString, bookingId: a.bookingID.wrapped, vehicleId: a.vehicleID.lowercasedString,
            corporateOrganizationId: a.corporateID.lowercasedString, employeeId: a.employeeID.lowercasedString,
            period: a.period.openMessage, createdBy: a.createdBy, replacesAssignmentId: a.replaces.wrapped
        )))
    }

    static func transition(_ command: AssignmentCommand, _ a: AssignmentRecord, previous: AssignmentStatus) -> EventDraft {
        let (id, booking, vehicle) = (a.id.lowercasedString, a.bookingID.wrapped, a.vehicleID.lowercasedString)
        let (corporate, employee, period) = (a.corporateID.lowercasedString, a.employeeID.lowercasedString, a.period.openMessage)
        let payload: EventsV1.EventEnvelope.PayloadOneof = switch command {
        case .accept:
            .assignmentAccepted(EventsV1.AssignmentAccepted(
                assignmentId: id, bookingId: booking, vehicleId: vehicle, corporateOrganizationId: corporate, employeeId: employee, period: period
            ))
        case .reject:
            .assignmentRejected(EventsV1.AssignmentRejected(
                assignmentId: id, bookingId: booking, vehicleId: vehicle, corporateOrganizationId: corporate, employeeId: employee,
                period: period, reason: a.rejectionReason.map { CommonV1.StringValue(value: $0) }
            ))
        case .activate:
            .assignmentActivated(EventsV1.AssignmentActivated(
                assignmentId: id, bookingId: booking, vehicleId: vehicle, corporateOrganizationId: corporate, employeeId: employee, period: period
            ))
        case .complete:
            .assignmentCompleted(EventsV1.AssignmentCompleted(
                assignmentId: id, bookingId: booking, vehicleId: vehicle, corporateOrganizationId: corporate, employeeId: employee,
                period: period, completedAt: a.completedAt?.timestamp
            ))
        case .close:
            .assignmentClosed(EventsV1.AssignmentClosed(
                assignmentId: id, bookingId: booking, vehicleId: vehicle, corporateOrganizationId: corporate, employeeId: employee,
                period: period, previousStatus: EventsV1.AssignmentStatus(storedName: previous.rawValue) ?? .unspecified,
                closeReason: EventsV1.AssignmentCloseReason(storedName: a.closeReason?.rawValue ?? "") ?? .unspecified,
                notes: a.closeNotes.map { CommonV1.StringValue(value: $0) }, replacedByAssignmentId: a.replacedBy.wrapped
            ))
        }
        return draft(command.eventType, a, payload)
    }

    private static func draft(_ type: String, _ a: AssignmentRecord, _ payload: EventsV1.EventEnvelope.PayloadOneof) -> EventDraft {
        EventDraft(type, aggregateType: "assignment", aggregateID: a.id.lowercasedString, aggregateVersion: a.version, payload: payload)
    }
}

extension Optional where Wrapped == UUID {
    var wrapped: CommonV1.StringValue? { map { CommonV1.StringValue(value: $0.lowercasedString) } }
}
