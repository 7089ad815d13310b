import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres

/// Fleet's projection of verification decisions about vehicles and their documents.
enum VerificationStore {
    static let gatedTypes = ["VEHICLE_REGISTRATION", "INSURANCE", "FITNESS_CERTIFICATE"]

    /// The vehicle a verification subject stands for: the vehicle itself, or a document's vehicle.
    static func vehicle(subject: EventsV1.VerificationSubjectType, id: String, _ work: UnitOfWork) async throws -> UUID? {
        guard let subjectID = UUID(hyphenated: id) else { return nil }
        switch subject {
        case .vehicle:
            return try await VehicleStore.get(subjectID, work).map { _ in subjectID }
        case .vehicleDocument:
            return try await work.query("SELECT vehicle_id FROM fleet.document WHERE id = \(subjectID)").first { _ in true }?.decode(UUID.self, "vehicle_id")
        default:
            return nil
        }
    }

    static func record(
        _ verification: UUID, vehicle: UUID, type: String, status: String, expiresAt: PostgresTimestamp?, _ work: UnitOfWork
    ) async throws {
        try await work.query("""
            INSERT INTO fleet.verification (verification_id, vehicle_id, type, status, expires_at)
            VALUES (\(verification), \(vehicle), \(type), \(status), \(expiresAt)::timestamptz)
            ON CONFLICT (verification_id) DO UPDATE SET status = EXCLUDED.status,
                expires_at = coalesce(EXCLUDED.expires_at, fleet.verification.expires_at), updated_at = now()
            """)
    }

    /// Every gated type has an approved verification unexpired at `instant`.
    static func gateOpen(vehicle: UUID, at instant: PostgresTimestamp, _ work: UnitOfWork) async throws -> Bool {
        try await work.query("""
            SELECT count(DISTINCT type) = cardinality(\(gatedTypes)::text[]) AS open FROM fleet.verification
            WHERE vehicle_id = \(vehicle) AND status = 'APPROVED' AND (expires_at IS NULL OR expires_at > \(instant)::timestamptz)
            """).single().decode(Bool.self, "open")
    }
}
