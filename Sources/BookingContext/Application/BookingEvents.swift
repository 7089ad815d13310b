import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarProto

/// The `booking.*` events (DOMAIN.md section 6), built from the saved record: aggregate the
/// booking, at its version after the change. Every payload repeats the parties and the period.
enum BookingEvents {
    /// What a transition's event says beyond the record.
    struct Context: Sendable {
        /// The acting user's id, or "system".
        var actor: String
        /// Approval notes, or a cancellation reason.
        var notes: String?
        var previous: BookingStatus
    }

    static func created(_ b: BookingRecord) -> EventDraft {
        draft("booking.created", b, .bookingCreated(EventsV1.BookingCreated(
            bookingId: b.id.lowercasedString, vehicleId: b.vehicleID.lowercasedString, vendorOrganizationId: b.vendorID.lowercasedString,
            corporateOrganizationId: b.corporateID.lowercasedString, period: b.period.message, requestedBy: b.requestedBy.lowercasedString
        )))
    }

    static func transition(_ command: BookingCommand, _ b: BookingRecord, _ context: Context) -> EventDraft {
        let (id, vehicle, vendor, corporate) = (b.id.lowercasedString, b.vehicleID.lowercasedString, b.vendorID.lowercasedString,
                                                b.corporateID.lowercasedString)
        let (period, requester, actor) = (b.period.message, b.requestedBy.lowercasedString, context.actor)
        let payload: EventsV1.EventEnvelope.PayloadOneof = switch command {
        case .submit:
            .bookingRequested(EventsV1.BookingRequested(
                bookingId: id, vehicleId: vehicle, vendorOrganizationId: vendor, corporateOrganizationId: corporate, period: period,
                requestedBy: requester, submittedBy: actor, selfBooking: b.selfBooking
            ))
        case .approve:
            .bookingApproved(EventsV1.BookingApproved(
                bookingId: id, vehicleId: vehicle, vendorOrganizationId: vendor, corporateOrganizationId: corporate, period: period,
                requestedBy: requester, approvedBy: actor, notes: context.notes.map { CommonV1.StringValue(value: $0) },
                selfBooking: b.selfBooking
            ))
        case .reject:
            .bookingRejected(EventsV1.BookingRejected(
                bookingId: id, vehicleId: vehicle, vendorOrganizationId: vendor, corporateOrganizationId: corporate, period: period,
                requestedBy: requester, rejectedBy: actor, reason: b.rejectionReason ?? ""
            ))
        case .assign:
            .bookingAssigned(EventsV1.BookingAssigned(
                bookingId: id, vehicleId: vehicle, vendorOrganizationId: vendor, corporateOrganizationId: corporate, period: period,
                requestedBy: requester, assignedBy: actor, employeeId: b.assignee?.lowercasedString ?? "",
                assignmentId: b.assignmentID?.lowercasedString ?? "", selfBooking: b.selfBooking && b.assignee == b.requestedBy
            ))
        case .activate:
            .bookingActivated(EventsV1.BookingActivated(
                bookingId: id, vehicleId: vehicle, vendorOrganizationId: vendor, corporateOrganizationId: corporate, period: period,
                requestedBy: requester, activatedBy: actor, handover: b.handover?.reading
            ))
        case .complete:
            .bookingCompleted(EventsV1.BookingCompleted(
                bookingId: id, vehicleId: vehicle, vendorOrganizationId: vendor, corporateOrganizationId: corporate, period: period,
                requestedBy: requester, completedBy: actor, returnReading: b.returnEvidence?.reading
            ))
        case .terminate:
            .bookingTerminated(EventsV1.BookingTerminated(
                bookingId: id, vehicleId: vehicle, vendorOrganizationId: vendor, corporateOrganizationId: corporate, period: period,
                requestedBy: requester, reason: EventsV1.TerminationReason(storedName: b.termination?.reason.rawValue ?? "") ?? .other,
                terminatedBy: b.termination?.terminatedBy ?? actor, terminatedAt: b.termination?.terminatedAt.timestamp,
                notes: b.termination?.notes.map { CommonV1.StringValue(value: $0) },
                moderationActionId: b.termination?.moderationAction.map { CommonV1.StringValue(value: $0.lowercasedString) }
            ))
        case .cancel:
            .bookingCancelled(EventsV1.BookingCancelled(
                bookingId: id, vehicleId: vehicle, vendorOrganizationId: vendor, corporateOrganizationId: corporate, period: period,
                requestedBy: requester, cancelledBy: b.cancelledBy ?? actor,
                previousStatus: EventsV1.BookingStatus(storedName: context.previous.rawValue) ?? .unspecified,
                reason: b.cancellationReason.map { CommonV1.StringValue(value: $0) }
            ))
        }
        return draft(command.eventType, b, payload)
    }

    private static func draft(_ type: String, _ b: BookingRecord, _ payload: EventsV1.EventEnvelope.PayloadOneof) -> EventDraft {
        EventDraft(type, aggregateType: "booking", aggregateID: b.id.lowercasedString, aggregateVersion: b.version, payload: payload)
    }
}

extension HandoverEvidence {
    var reading: EventsV1.HandoverReading {
        EventsV1.HandoverReading(
            odometerKm: odometerKm, fuelPercent: fuelPercent, conditionNotes: conditionNotes.map { CommonV1.StringValue(value: $0) }
        )
    }
}
