import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarProto

// Domain records as `karokar.booking.v1` messages: the only place that maps them.

extension BookingRecord {
    var message: BookingV1.Booking {
        var message = BookingV1.Booking(
            id: id.lowercasedString, vehicleId: vehicleID.lowercasedString, vendorOrganizationId: vendorID.lowercasedString,
            corporateOrganizationId: corporateID.lowercasedString, requestedBy: requestedBy.lowercasedString, period: period.message,
            status: BookingV1.BookingStatus(storedName: status.rawValue) ?? .unspecified, notes: notes.wrapped
        )
        message.submittedAt = submittedAt?.timestamp
        message.decidedBy = decidedBy?.lowercasedString.wrapped
        message.decidedAt = decidedAt?.timestamp
        message.rejectionReason = rejectionReason.wrapped
        message.cancelledBy = cancelledBy.wrapped
        message.cancelledAt = cancelledAt?.timestamp
        message.cancellationReason = cancellationReason.wrapped
        message.activatedAt = activatedAt?.timestamp
        message.completedAt = completedAt?.timestamp
        message.termination = termination.map { $0.message(id) }
        message.version = version
        message.createdAt = createdAt.timestamp
        message.updatedAt = updatedAt.timestamp
        message.handoverEvidence = handover?.message
        message.returnEvidence = returnEvidence?.message
        message.selfBooking = selfBooking
        message.expiresAt = status == .requested ? expiresAt?.timestamp : nil
        return message
    }
}

extension BookingTermination {
    func message(_ booking: UUID) -> BookingV1.BookingTermination {
        BookingV1.BookingTermination(
            bookingId: booking.lowercasedString, reason: BookingV1.TerminationReason(storedName: reason.rawValue) ?? .other,
            terminatedBy: terminatedBy, terminatedAt: terminatedAt.timestamp, notes: notes.wrapped
        )
    }
}

extension HandoverEvidence {
    var message: BookingV1.HandoverEvidence {
        BookingV1.HandoverEvidence(
            odometerKm: odometerKm, fuelPercent: fuelPercent, conditionNotes: conditionNotes.wrapped,
            recordedBy: recordedBy.lowercasedString, recordedAt: recordedAt.timestamp
        )
    }
}

extension Allocation {
    var message: BookingV1.Allocation {
        BookingV1.Allocation(
            corporateOrganizationId: corporateID.lowercasedString, employeeId: employee?.lowercasedString.wrapped,
            maxActiveBookings: UInt32(clamping: maxActiveBookings), maxDaysPerMonth: UInt32(clamping: maxDaysPerMonth), version: version,
            updatedAt: updatedAt.timestamp
        )
    }
}

extension AllocationUsage {
    var message: BookingV1.AllocationUsage {
        BookingV1.AllocationUsage(
            employeeId: employee.lowercasedString, allocation: allocation?.message, activeBookings: UInt32(clamping: activeBookings),
            remainingActiveBookings: UInt32(clamping: remainingActiveBookings), month: month.message, daysBooked: UInt32(clamping: daysBooked),
            remainingDays: remainingDays.map { CommonV1.Int64Value(value: $0) }
        )
    }
}

extension Optional where Wrapped == String {
    var wrapped: CommonV1.StringValue? { map { CommonV1.StringValue(value: $0) } }
}

extension String {
    var wrapped: CommonV1.StringValue? { CommonV1.StringValue(value: self) }
}

extension Validation {
    /// A known, non-default enum value, as the domain enum of the same stored name.
    mutating func known<E: ProtoEnum, D: RawRepresentable & CaseIterable>(_ value: E, _ field: String, as _: D.Type) -> D
    where D.RawValue == String {
        let value = known(value, field)
        if let domain = D(rawValue: value.storedName ?? "") { return domain }
        if !value.isProtoDefault, value.isKnown { add(field, "UNKNOWN_VALUE", "\(field) must be one of the documented values") }
        return D.allCases.first!
    }

    /// Optional notes or reasons sent as a wrapper: trimmed, never required; nil when blank.
    mutating func optionalText(_ value: CommonV1.StringValue?, _ field: String, maximumLength: Int) -> String? {
        guard let value else { return nil }
        let text = text(value.value, field, maximumLength: maximumLength, required: false)
        return text.isEmpty ? nil : text
    }

    /// The odometer, fuel level and condition read at a handover or return.
    mutating func reading(_ value: BookingV1.HandoverReading?, _ field: String) -> HandoverReading {
        guard let value else {
            add(field, "REQUIRED", "\(field) is required: the odometer, fuel level and condition")
            return HandoverReading(odometerKm: 0, fuelPercent: 0, conditionNotes: nil)
        }
        return HandoverReading(
            odometerKm: range(value.odometerKm, field + ".odometerKm", 0...10_000_000),
            fuelPercent: range(value.fuelPercent, field + ".fuelPercent", 0...100),
            conditionNotes: optionalText(value.conditionNotes, field + ".conditionNotes", maximumLength: 2000)
        )
    }

    /// List filters: known statuses, an optional period and vehicle.
    mutating func filter(_ statuses: [BookingV1.BookingStatus], _ period: CommonV1.Period?, _ vehicle: CommonV1.StringValue?) -> BookingFilter {
        BookingFilter(
            statuses: statuses.enumerated().map { known($0.element, "statuses[\($0.offset)]", as: BookingStatus.self) },
            overlapping: period.map { self.period($0, "overlapping") }, vehicle: vehicle.map { uuid($0.value, "vehicleId.value") }
        )
    }
}
