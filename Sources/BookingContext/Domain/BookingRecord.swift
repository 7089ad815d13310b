import Foundation
import KaroKarKernel

/// A corporate's booking of a vendor's vehicle (DOMAIN.md section 6), as stored.
struct BookingRecord: Sendable, Hashable, Codable {
    var id: UUID
    var vehicleID: UUID
    /// Derived from the vehicle, never taken from input.
    var vendorID: UUID
    /// The creating caller's organization.
    var corporateID: UUID
    var requestedBy: UUID
    var period: Period
    var status: BookingStatus
    var notes: String?
    /// An employee's booking for themselves within the allocation (DOMAIN.md 6.1).
    var selfBooking: Bool
    var submittedAt: Instant?
    /// While REQUESTED: when the sweep cancels it.
    var expiresAt: Instant?
    var decidedBy: UUID?
    var decidedAt: Instant?
    var rejectionReason: String?
    /// The employee of the latest assignment this booking made, and its id.
    var assignee: UUID?
    var assignmentID: UUID?
    /// "system" for the expiry sweep.
    var cancelledBy: String?
    var cancelledAt: Instant?
    var cancellationReason: String?
    var activatedAt: Instant?
    var completedAt: Instant?
    var handover: HandoverEvidence?
    var returnEvidence: HandoverEvidence?
    var termination: BookingTermination?
    var version: Int64
    var createdAt: Instant
    var updatedAt: Instant

    /// Whether this is `user`'s own self-booking, which an employee with only the `*_own` grants
    /// reads, submits and cancels (DOMAIN.md 6.1: "for themselves only"). Requested by them, and
    /// still for them: once the corporate reassigns it to a colleague it is the colleague's
    /// booking, so the requester no longer sees or cancels it (they learn of it by their
    /// assignment being closed), as the allocation no longer counts it for them.
    func isOwnSelfBooking(of user: UUID) -> Bool {
        selfBooking && requestedBy == user && (assignee == nil || assignee == user)
    }
}

/// How an ACTIVE booking ended early.
struct BookingTermination: Sendable, Hashable, Codable {
    var reason: TerminationReason
    /// A user id, or "system".
    var terminatedBy: String
    var terminatedAt: Instant
    var notes: String?
    var moderationAction: UUID?
}

/// What was read at a handover or a return, with who recorded it and when.
struct HandoverEvidence: Sendable, Hashable, Codable {
    var odometerKm: Int64
    var fuelPercent: Int32
    var conditionNotes: String?
    var recordedBy: UUID
    var recordedAt: Instant
}

/// What a caller reads at a handover or a return (validated at the edge).
struct HandoverReading: Sendable, Hashable {
    var odometerKm: Int64
    var fuelPercent: Int32
    var conditionNotes: String?

    func recorded(by user: UUID, at instant: Instant) -> HandoverEvidence {
        HandoverEvidence(odometerKm: odometerKm, fuelPercent: fuelPercent, conditionNotes: conditionNotes, recordedBy: user, recordedAt: instant)
    }

    /// At return, the odometer never goes back below the handover's.
    func checkReturn(after handover: HandoverEvidence?) throws(DomainError) {
        if let handover, odometerKm < handover.odometerKm {
            throw DomainError.failedPrecondition(
                "ODOMETER_BELOW_HANDOVER", "the odometer at return (\(odometerKm) km) is below the handover's (\(handover.odometerKm) km)"
            )
        }
    }
}

/// A new booking's request: the vehicle and period, validated; the rest comes from the caller and the vehicle.
struct BookingDraft: Sendable, Hashable {
    var vehicleID: UUID
    var period: Period
    var notes: String?
}

/// The result of an assignment: the booking and the assignment it created.
struct AssignedBooking: Sendable, Hashable, Codable {
    var booking: BookingRecord
    var assignmentID: UUID
}

/// The list filters of ListCorporateBookings and ListVendorBookingRequests.
struct BookingFilter: Sendable, Hashable {
    var statuses: [BookingStatus] = []
    var overlapping: Period?
    var vehicle: UUID?
}

/// Which side of the marketplace a list is for.
enum BookingSide: Sendable, Hashable {
    /// A corporate's bookings; `requester` narrows them to one user's (an employee's own).
    case corporate(UUID, requester: UUID?)
    /// A vendor's incoming requests (never DRAFT).
    case vendor(UUID)
}
