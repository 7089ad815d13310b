import Foundation
import KaroKarKernel
import KaroKarMessages

// Domain records as `karokar.fleet.v1` messages: the only place that maps them.

extension Vehicle {
    var message: FleetV1.Vehicle {
        FleetV1.Vehicle(
            id: id.lowercasedString, organizationId: organizationID.lowercasedString, ownershipType: ownership.wire(), make: make,
            model: model, year: year, licensePlate: licensePlate, status: status.wire(), version: version,
            createdAt: createdAt.timestamp, updatedAt: updatedAt.timestamp
        )
    }
}

extension AvailabilityRecord {
    var message: FleetV1.AvailabilityRecord {
        FleetV1.AvailabilityRecord(
            id: id.lowercasedString, vehicleId: vehicleID.lowercasedString, organizationId: organizationID.lowercasedString,
            period: period.openMessage, status: status.wire(), sourceType: source.wire(), sourceId: sourceID.lowercasedString,
            createdAt: createdAt.timestamp, releasedAt: releasedAt?.timestamp, version: version
        )
    }
}

extension MaintenanceRecord {
    var message: FleetV1.MaintenanceRecord {
        FleetV1.MaintenanceRecord(
            id: id.lowercasedString, vehicleId: vehicleID.lowercasedString, organizationId: organizationID.lowercasedString,
            period: period.message, reason: reason, status: status.wire(), availabilityRecordId: availabilityRecordID.lowercasedString,
            bookingId: bookingID.stringValue, createdBy: createdBy, startedAt: startedAt?.timestamp, completedAt: completedAt?.timestamp,
            cancelledAt: cancelledAt?.timestamp, cancellationReason: cancellationReason.stringValue, version: version,
            createdAt: createdAt.timestamp, updatedAt: updatedAt.timestamp
        )
    }
}

extension Suspension {
    var message: FleetV1.VehicleSuspension {
        FleetV1.VehicleSuspension(
            id: id.lowercasedString, vehicleId: vehicleID.lowercasedString, organizationId: organizationID.lowercasedString,
            reason: reason.wire(), period: period.openMessage, notes: notes.stringValue,
            availabilityRecordId: availabilityRecordID.lowercasedString, createdBy: createdBy, createdAt: createdAt.timestamp,
            liftedAt: liftedAt?.timestamp, liftedBy: liftedBy.stringValue, version: version
        )
    }
}

extension Block {
    var message: FleetV1.VehicleBlock {
        FleetV1.VehicleBlock(
            id: id.lowercasedString, vehicleId: vehicleID.lowercasedString, organizationId: organizationID.lowercasedString,
            period: period.message, reason: reason, availabilityRecordId: availabilityRecordID.lowercasedString, createdBy: createdBy,
            createdAt: createdAt.timestamp, removedAt: removedAt?.timestamp, removedBy: removedBy.stringValue, version: version,
            placedByPlatform: placedByPlatform
        )
    }
}

extension VehicleDocument {
    var message: FleetV1.VehicleDocument {
        FleetV1.VehicleDocument(
            id: id.lowercasedString, vehicleId: vehicleID.lowercasedString, organizationId: organizationID.lowercasedString,
            type: type.wire(), number: number, issuedAt: issuedAt.timestamp, expiresAt: expiresAt?.timestamp, fileRef: fileRef,
            createdBy: createdBy, createdAt: createdAt.timestamp
        )
    }
}

extension ExpirySweepReport {
    var message: FleetV1.RunDocumentExpirySweepResponse {
        FleetV1.RunDocumentExpirySweepResponse(
            findings: findings.map { finding in
                FleetV1.DocumentExpiryFinding(
                    vehicleId: finding.document.vehicleID.lowercasedString, organizationId: finding.document.organizationID.lowercasedString,
                    documentId: finding.document.id.lowercasedString, documentType: finding.document.type.wire(),
                    expiredAt: finding.document.expiresAt?.timestamp, suspensionId: finding.suspensionID.stringValue
                )
            },
            suspensionsOpened: suspensionsOpened
        )
    }
}
