import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres

extension PostgresRow {
    func uuidText(_ column: String) throws -> String {
        try decode(UUID.self, column).postgresText
    }

    func optionalText(_ column: String) throws -> CommonV1.StringValue? {
        try decode(String?.self, column).map { CommonV1.StringValue(value: $0) }
    }

    func optionalUUIDText(_ column: String) throws -> CommonV1.StringValue? {
        try decode(UUID?.self, column).map { CommonV1.StringValue(value: $0.postgresText) }
    }

    func instant(_ column: String) throws -> CommonV1.Timestamp? {
        try decode(PostgresTimestamp?.self, column)?.timestamp
    }

    func maintenance() throws -> FleetV1.MaintenanceRecord {
        FleetV1.MaintenanceRecord(
            id: try uuidText("id"), vehicleId: try uuidText("vehicle_id"), organizationId: try uuidText("organization_id"),
            period: try decode(PostgresTimestampRange.self, "period").period, reason: try decode(String.self, "reason"),
            status: FleetV1.MaintenanceStatus(storedName: try decode(String.self, "status")) ?? .unspecified,
            availabilityRecordId: try uuidText("availability_id"), bookingId: try optionalUUIDText("booking_id"),
            createdBy: try decode(String.self, "created_by"), startedAt: try instant("started_at"),
            completedAt: try instant("completed_at"), cancelledAt: try instant("cancelled_at"),
            cancellationReason: try optionalText("cancellation_reason"), version: try decode(Int64.self, "version"),
            createdAt: try instant("created_at"), updatedAt: try instant("updated_at")
        )
    }

    func suspension() throws -> FleetV1.VehicleSuspension {
        FleetV1.VehicleSuspension(
            id: try uuidText("id"), vehicleId: try uuidText("vehicle_id"), organizationId: try uuidText("organization_id"),
            reason: FleetV1.SuspensionReason(storedName: try decode(String.self, "reason")) ?? .unspecified,
            period: try decode(PostgresTimestampRange.self, "period").openPeriod, notes: try optionalText("notes"),
            availabilityRecordId: try uuidText("availability_id"), createdBy: try decode(String.self, "created_by"),
            createdAt: try instant("created_at"), liftedAt: try instant("lifted_at"), liftedBy: try optionalText("lifted_by"),
            version: try decode(Int64.self, "version")
        )
    }

    func block() throws -> FleetV1.VehicleBlock {
        FleetV1.VehicleBlock(
            id: try uuidText("id"), vehicleId: try uuidText("vehicle_id"), organizationId: try uuidText("organization_id"),
            period: try decode(PostgresTimestampRange.self, "period").period, reason: try decode(String.self, "reason"),
            availabilityRecordId: try uuidText("availability_id"), createdBy: try decode(String.self, "created_by"),
            createdAt: try instant("created_at"), removedAt: try instant("removed_at"), removedBy: try optionalText("removed_by"),
            version: try decode(Int64.self, "version")
        )
    }

    func document() throws -> FleetV1.VehicleDocument {
        FleetV1.VehicleDocument(
            id: try uuidText("id"), vehicleId: try uuidText("vehicle_id"), organizationId: try uuidText("organization_id"),
            type: FleetV1.VehicleDocumentType(storedName: try decode(String.self, "type")) ?? .unspecified,
            number: try decode(String.self, "number"), issuedAt: try instant("issued_at"), expiresAt: try instant("expires_at"),
            fileRef: try decode(String.self, "file_ref"), createdBy: try decode(String.self, "created_by"),
            createdAt: try instant("created_at")
        )
    }
}
