import Foundation
import KaroKarKernel
import KaroKarMessages

/// The `vehicle.*` events (DOMAIN.md section 3), built from the domain records: the aggregate is
/// the vehicle, at its version after the change where the change bumps it.
enum VehicleEvents {
    static func registered(_ vehicle: Vehicle) -> EventDraft {
        let id = vehicle.id.lowercasedString
        return EventDraft("vehicle.registered", aggregateType: "vehicle", aggregateID: id, aggregateVersion: vehicle.version,
                          payload: .vehicleRegistered(EventsV1.VehicleRegistered(
                              vehicleId: id, organizationId: vehicle.organizationID.lowercasedString, ownershipType: vehicle.ownership.wire(),
                              make: vehicle.make, model: vehicle.model, year: vehicle.year, licensePlate: vehicle.licensePlate
                          )))
    }

    static func detailsUpdated(_ vehicle: Vehicle) -> EventDraft {
        let id = vehicle.id.lowercasedString
        return EventDraft("vehicle.details_updated", aggregateType: "vehicle", aggregateID: id, aggregateVersion: vehicle.version,
                          payload: .vehicleDetailsUpdated(EventsV1.VehicleDetailsUpdated(
                              vehicleId: id, organizationId: vehicle.organizationID.lowercasedString, make: vehicle.make,
                              model: vehicle.model, year: vehicle.year, licensePlate: vehicle.licensePlate
                          )))
    }

    static func activated(_ vehicle: Vehicle) -> EventDraft {
        let id = vehicle.id.lowercasedString
        return EventDraft("vehicle.activated", aggregateType: "vehicle", aggregateID: id, aggregateVersion: vehicle.version,
                          payload: .vehicleActivated(EventsV1.VehicleActivated(
                              vehicleId: id, organizationId: vehicle.organizationID.lowercasedString, ownershipType: vehicle.ownership.wire()
                          )))
    }

    static func retired(_ vehicle: Vehicle, previous: VehicleState, reason: String?) -> EventDraft {
        let id = vehicle.id.lowercasedString
        return EventDraft("vehicle.retired", aggregateType: "vehicle", aggregateID: id, aggregateVersion: vehicle.version,
                          payload: .vehicleRetired(EventsV1.VehicleRetired(
                              vehicleId: id, organizationId: vehicle.organizationID.lowercasedString, previousStatus: previous.wire(),
                              reason: reason.stringValue
                          )))
    }

    /// `overlapping`: the bookings and assignments whose parties the suspension concerns.
    static func suspended(
        _ suspension: Suspension, vehicle: Vehicle, _ opening: SuspensionOpening, overlapping: (bookings: [UUID], assignments: [UUID])
    ) -> EventDraft {
        let id = vehicle.id.lowercasedString
        return EventDraft("vehicle.suspended", aggregateType: "vehicle", aggregateID: id, aggregateVersion: vehicle.version,
                          payload: .vehicleSuspended(EventsV1.VehicleSuspended(
                              vehicleId: id, organizationId: vehicle.organizationID.lowercasedString,
                              suspensionId: suspension.id.lowercasedString, reason: suspension.reason.wire(),
                              period: suspension.period.openMessage, notes: suspension.notes.stringValue,
                              availabilityRecordId: suspension.availabilityRecordID.lowercasedString,
                              overlappingBookingIds: overlapping.bookings.map(\.lowercasedString),
                              overlappingAssignmentIds: overlapping.assignments.map(\.lowercasedString),
                              moderationActionId: opening.moderationAction.stringValue, documentId: opening.document.stringValue,
                              verificationId: opening.verification.stringValue
                          )))
    }

    static func suspensionLifted(_ suspension: Suspension, vehicle: Vehicle) -> EventDraft {
        let id = vehicle.id.lowercasedString
        return EventDraft("vehicle.suspension_lifted", aggregateType: "vehicle", aggregateID: id, aggregateVersion: vehicle.version,
                          payload: .vehicleSuspensionLifted(EventsV1.VehicleSuspensionLifted(
                              vehicleId: id, organizationId: vehicle.organizationID.lowercasedString,
                              suspensionId: suspension.id.lowercasedString, reason: suspension.reason.wire(),
                              vehicleStatus: vehicle.status.wire(), notes: suspension.notes.stringValue
                          )))
    }

    static func documentAdded(_ document: VehicleDocument) -> EventDraft {
        let vehicle = document.vehicleID.lowercasedString
        return EventDraft("vehicle.document_added", aggregateType: "vehicle", aggregateID: vehicle,
                          payload: .vehicleDocumentAdded(EventsV1.VehicleDocumentAdded(
                              documentId: document.id.lowercasedString, vehicleId: vehicle,
                              organizationId: document.organizationID.lowercasedString, documentType: document.type.wire(),
                              number: document.number, issuedAt: document.issuedAt.timestamp, expiresAt: document.expiresAt?.timestamp
                          )))
    }

    static func blockPlaced(_ block: Block, moderationAction: UUID?) -> EventDraft {
        let vehicle = block.vehicleID.lowercasedString
        return EventDraft("vehicle.block_placed", aggregateType: "vehicle", aggregateID: vehicle,
                          payload: .vehicleBlockPlaced(EventsV1.VehicleBlockPlaced(
                              blockId: block.id.lowercasedString, vehicleId: vehicle, organizationId: block.organizationID.lowercasedString,
                              period: block.period.message, reason: block.reason,
                              availabilityRecordId: block.availabilityRecordID.lowercasedString,
                              moderationActionId: moderationAction.stringValue
                          )))
    }

    static func blockRemoved(_ block: Block) -> EventDraft {
        let vehicle = block.vehicleID.lowercasedString
        return EventDraft("vehicle.block_removed", aggregateType: "vehicle", aggregateID: vehicle,
                          payload: .vehicleBlockRemoved(EventsV1.VehicleBlockRemoved(
                              blockId: block.id.lowercasedString, vehicleId: vehicle, organizationId: block.organizationID.lowercasedString,
                              availabilityRecordId: block.availabilityRecordID.lowercasedString
                          )))
    }
}
