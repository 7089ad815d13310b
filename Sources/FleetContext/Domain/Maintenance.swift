import Foundation
import KaroKarKernel

/// Planned or running maintenance: `SCHEDULED -> IN_PROGRESS -> COMPLETED`, and
/// `SCHEDULED | IN_PROGRESS -> CANCELLED`.
enum MaintenanceState: String, Sendable, CaseIterable, Codable {
    case scheduled = "SCHEDULED"
    case inProgress = "IN_PROGRESS"
    case completed = "COMPLETED"
    case cancelled = "CANCELLED"

    /// The state `action` leads to, or INVALID_MAINTENANCE_TRANSITION.
    func after(_ action: MaintenanceAction) throws(DomainError) -> MaintenanceState {
        switch action {
        case .start:
            guard self == .scheduled else { throw refusal("start") }
            return .inProgress
        case .complete:
            guard self == .inProgress else { throw refusal("complete") }
            return .completed
        case .cancel:
            guard holdsTheVehicle else { throw refusal("cancel") }
            return .cancelled
        }
    }

    private func refusal(_ action: String) -> DomainError {
        FleetError.invalidTransition("MAINTENANCE", from: rawValue, action: action)
    }

    /// Completing or cancelling releases the MAINTENANCE record.
    var holdsTheVehicle: Bool { self == .scheduled || self == .inProgress }
}

/// What a maintenance verb does.
enum MaintenanceAction: Sendable, Hashable {
    case start
    case complete
    case cancel(reason: String?)
}

/// Maintenance of a vehicle, holding it through one MAINTENANCE record.
struct MaintenanceRecord: Sendable, Hashable, Codable {
    var id: UUID
    var vehicleID: UUID
    var organizationID: UUID
    var period: Period
    var reason: String
    var status: MaintenanceState
    var availabilityRecordID: UUID
    /// The booking whose termination (accident, breakdown) scheduled it.
    var bookingID: UUID?
    var createdBy: String
    var startedAt: Instant?
    var completedAt: Instant?
    var cancelledAt: Instant?
    var cancellationReason: String?
    var version: Int64
    var createdAt: Instant
    var updatedAt: Instant
}

/// Which maintenance records a list shows.
struct MaintenanceFilter: Sendable, Hashable {
    /// One vehicle's; nil: the caller's fleet (platform administrators: every fleet).
    var vehicle: UUID?
    /// Any of these; empty: every status.
    var statuses: [MaintenanceState] = []
    var overlapping: Period?
}
