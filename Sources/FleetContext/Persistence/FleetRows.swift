import Foundation
import KaroKarKernel
import KaroKarPostgres

// Rows of Fleet's tables as domain records. Every store selects its table's `columns`.

extension PostgresRow {
    func vehicle() throws -> Vehicle {
        Vehicle(
            id: try decode(UUID.self, "id"), organizationID: try decode(UUID.self, "organization_id"),
            ownership: try enumeration(Ownership.self, "ownership_type"), make: try decode(String.self, "make"),
            model: try decode(String.self, "model"), year: try decode(Int32.self, "year"),
            licensePlate: try decode(String.self, "license_plate"), status: try enumeration(VehicleState.self, "status"),
            version: try decode(Int64.self, "version"), createdAt: try decode(Instant.self, "created_at"),
            updatedAt: try decode(Instant.self, "updated_at")
        )
    }

    func availabilityRecord() throws -> AvailabilityRecord {
        AvailabilityRecord(
            id: try decode(UUID.self, "id"), vehicleID: try decode(UUID.self, "vehicle_id"),
            organizationID: try decode(UUID.self, "organization_id"), period: try decode(Period.self, "period"),
            status: try enumeration(HoldStatus.self, "status"), source: try enumeration(HoldSource.self, "source_type"),
            sourceID: try decode(UUID.self, "source_id"), createdAt: try decode(Instant.self, "created_at"),
            releasedAt: try decode(Instant?.self, "released_at"), version: try decode(Int64.self, "version")
        )
    }

    func maintenance() throws -> MaintenanceRecord {
        MaintenanceRecord(
            id: try decode(UUID.self, "id"), vehicleID: try decode(UUID.self, "vehicle_id"),
            organizationID: try decode(UUID.self, "organization_id"), period: try decode(Period.self, "period"),
            reason: try decode(String.self, "reason"), status: try enumeration(MaintenanceState.self, "status"),
            availabilityRecordID: try decode(UUID.self, "availability_id"), bookingID: try decode(UUID?.self, "booking_id"),
            createdBy: try decode(String.self, "created_by"), startedAt: try decode(Instant?.self, "started_at"),
            completedAt: try decode(Instant?.self, "completed_at"), cancelledAt: try decode(Instant?.self, "cancelled_at"),
            cancellationReason: try decode(String?.self, "cancellation_reason"), version: try decode(Int64.self, "version"),
            createdAt: try decode(Instant.self, "created_at"), updatedAt: try decode(Instant.self, "updated_at")
        )
    }

    func suspension() throws -> Suspension {
        Suspension(
            id: try decode(UUID.self, "id"), vehicleID: try decode(UUID.self, "vehicle_id"),
            organizationID: try decode(UUID.self, "organization_id"), reason: try enumeration(SuspensionReason.self, "reason"),
            period: try decode(Period.self, "period"), notes: try decode(String?.self, "notes"),
            availabilityRecordID: try decode(UUID.self, "availability_id"), documentID: try decode(UUID?.self, "document_id"),
            createdBy: try decode(String.self, "created_by"), createdAt: try decode(Instant.self, "created_at"),
            liftedAt: try decode(Instant?.self, "lifted_at"), liftedBy: try decode(String?.self, "lifted_by"),
            version: try decode(Int64.self, "version")
        )
    }

    func block() throws -> Block {
        Block(
            id: try decode(UUID.self, "id"), vehicleID: try decode(UUID.self, "vehicle_id"),
            organizationID: try decode(UUID.self, "organization_id"), period: try decode(Period.self, "period"),
            reason: try decode(String.self, "reason"), availabilityRecordID: try decode(UUID.self, "availability_id"),
            createdBy: try decode(String.self, "created_by"), createdAt: try decode(Instant.self, "created_at"),
            removedAt: try decode(Instant?.self, "removed_at"), removedBy: try decode(String?.self, "removed_by"),
            version: try decode(Int64.self, "version"), placedByPlatform: try decode(Bool.self, "placed_by_platform")
        )
    }

    func document() throws -> VehicleDocument {
        VehicleDocument(
            id: try decode(UUID.self, "id"), vehicleID: try decode(UUID.self, "vehicle_id"),
            organizationID: try decode(UUID.self, "organization_id"), type: try enumeration(DocumentType.self, "type"),
            number: try decode(String.self, "number"), issuedAt: try decode(Instant.self, "issued_at"),
            expiresAt: try decode(Instant?.self, "expires_at"), fileRef: try decode(String.self, "file_ref"),
            createdBy: try decode(String.self, "created_by"), createdAt: try decode(Instant.self, "created_at")
        )
    }
}
