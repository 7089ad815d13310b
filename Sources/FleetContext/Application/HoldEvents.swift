import Foundation
import KaroKarKernel
import KaroKarMessages

/// The `availability.*` events (aggregate: the vehicle), the `maintenance.*` events (aggregate:
/// the maintenance record, at its version) and `fleet_settings.*` (aggregate: the owner).
enum HoldEvents {
    /// `fleet_settings.turnaround_buffer_set` (aggregate: the owner's fleet settings).
    static func turnaroundBufferSet(_ organization: UUID, minutes: Int32) -> EventDraft {
        let owner = organization.lowercasedString
        return EventDraft("fleet_settings.turnaround_buffer_set", aggregateType: "fleet_settings", aggregateID: owner,
                          payload: .turnaroundBufferSet(EventsV1.TurnaroundBufferSet(organizationId: owner, minutes: UInt32(clamping: minutes))))
    }

    static func created(_ record: AvailabilityRecord) -> EventDraft {
        let vehicle = record.vehicleID.lowercasedString
        return EventDraft("availability.created", aggregateType: "vehicle", aggregateID: vehicle,
                          payload: .availabilityCreated(EventsV1.AvailabilityCreated(
                              recordId: record.id.lowercasedString, vehicleId: vehicle, organizationId: record.organizationID.lowercasedString,
                              period: record.period.openMessage, status: record.status.wire(), sourceType: record.source.wire(),
                              sourceId: record.sourceID.lowercasedString
                          )))
    }

    static func released(_ record: AvailabilityRecord) -> EventDraft {
        let vehicle = record.vehicleID.lowercasedString
        return EventDraft("availability.released", aggregateType: "vehicle", aggregateID: vehicle,
                          payload: .availabilityReleased(EventsV1.AvailabilityReleased(
                              recordId: record.id.lowercasedString, vehicleId: vehicle, organizationId: record.organizationID.lowercasedString,
                              period: record.period.openMessage, status: record.status.wire(), sourceType: record.source.wire(),
                              sourceId: record.sourceID.lowercasedString, releasedAt: record.releasedAt?.timestamp
                          )))
    }

    static func statusChanged(_ record: AvailabilityRecord, from previous: HoldStatus) -> EventDraft {
        let vehicle = record.vehicleID.lowercasedString
        return EventDraft("availability.status_changed", aggregateType: "vehicle", aggregateID: vehicle,
                          payload: .availabilityStatusChanged(EventsV1.AvailabilityStatusChanged(
                              recordId: record.id.lowercasedString, vehicleId: vehicle, organizationId: record.organizationID.lowercasedString,
                              previousStatus: previous.wire(), status: record.status.wire(), sourceType: record.source.wire(),
                              sourceId: record.sourceID.lowercasedString
                          )))
    }

    static func maintenanceScheduled(_ record: MaintenanceRecord) -> EventDraft {
        let id = record.id.lowercasedString
        return EventDraft("maintenance.scheduled", aggregateType: "maintenance", aggregateID: id, aggregateVersion: record.version,
                          payload: .maintenanceScheduled(EventsV1.MaintenanceScheduled(
                              maintenanceId: id, vehicleId: record.vehicleID.lowercasedString,
                              organizationId: record.organizationID.lowercasedString, period: record.period.message, reason: record.reason,
                              availabilityRecordId: record.availabilityRecordID.lowercasedString, bookingId: record.bookingID.stringValue
                          )))
    }

    /// `maintenance.started|completed|cancelled`, after the record moved to its status.
    static func maintenanceMoved(_ record: MaintenanceRecord, cancellation reason: String?) -> EventDraft {
        let (id, vehicle, owner) = (record.id.lowercasedString, record.vehicleID.lowercasedString, record.organizationID.lowercasedString)
        let hold = record.availabilityRecordID.lowercasedString
        let (type, payload): (String, EventsV1.EventEnvelope.PayloadOneof) = switch record.status {
        case .inProgress:
            ("maintenance.started", .maintenanceStarted(EventsV1.MaintenanceStarted(
                maintenanceId: id, vehicleId: vehicle, organizationId: owner, period: record.period.message
            )))
        case .completed:
            ("maintenance.completed", .maintenanceCompleted(EventsV1.MaintenanceCompleted(
                maintenanceId: id, vehicleId: vehicle, organizationId: owner, period: record.period.message, availabilityRecordId: hold
            )))
        case .cancelled, .scheduled:
            ("maintenance.cancelled", .maintenanceCancelled(EventsV1.MaintenanceCancelled(
                maintenanceId: id, vehicleId: vehicle, organizationId: owner, period: record.period.message, availabilityRecordId: hold,
                reason: reason.stringValue
            )))
        }
        return EventDraft(type, aggregateType: "maintenance", aggregateID: id, aggregateVersion: record.version, payload: payload)
    }
}
