import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarProto

// Domain records as `karokar.assignment.v1` messages: the only place that maps them.

extension AssignmentRecord {
    var message: AssignmentV1.Assignment {
        AssignmentV1.Assignment(
            id: id.lowercasedString, bookingId: bookingID.wrapped, vehicleId: vehicleID.lowercasedString,
            corporateOrganizationId: corporateID.lowercasedString, employeeId: employeeID.lowercasedString, period: period.openMessage,
            status: AssignmentV1.AssignmentStatus(storedName: status.rawValue) ?? .unspecified, createdBy: createdBy,
            respondedAt: respondedAt?.timestamp, rejectionReason: rejectionReason.map { CommonV1.StringValue(value: $0) },
            activatedAt: activatedAt?.timestamp, completedAt: completedAt?.timestamp, closedAt: closedAt?.timestamp,
            closedBy: closedBy.wrapped, closeReason: AssignmentV1.AssignmentCloseReason(storedName: closeReason?.rawValue ?? "") ?? .unspecified,
            closeNotes: closeNotes.map { CommonV1.StringValue(value: $0) }, replacesAssignmentId: replaces.wrapped,
            replacedByAssignmentId: replacedBy.wrapped, version: version, createdAt: createdAt.timestamp, updatedAt: updatedAt.timestamp
        )
    }
}

extension Validation {
    /// Known statuses of a list filter.
    mutating func statuses(_ values: [AssignmentV1.AssignmentStatus]) -> [AssignmentStatus] {
        values.enumerated().map { entry in
            let value = known(entry.element, "statuses[\(entry.offset)]")
            return AssignmentStatus(rawValue: value.storedName ?? "") ?? .pending
        }
    }

    /// Optional notes or reasons sent as a wrapper: trimmed; nil when blank.
    mutating func optionalText(_ value: CommonV1.StringValue?, _ field: String, maximumLength: Int) -> String? {
        guard let value else { return nil }
        let text = text(value.value, field, maximumLength: maximumLength, required: false)
        return text.isEmpty ? nil : text
    }
}
