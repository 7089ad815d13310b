import Foundation
import KaroKarKernel
import KaroKarPostgres

/// Fleet's projection of verification decisions about vehicles and their documents.
enum VerificationStore {
    /// The vehicle `id` names, when it is one of Fleet's.
    static func vehicle(_ id: UUID, _ work: UnitOfWork) async throws -> UUID? {
        try await VehicleStore.get(id, work).map { _ in id }
    }

    /// The vehicle of document `id`, when it is one of Fleet's.
    static func vehicle(ofDocument id: UUID, _ work: UnitOfWork) async throws -> UUID? {
        try await work.query("SELECT vehicle_id FROM fleet.document WHERE id = \(id)").first { _ in true }?.decode(UUID.self, "vehicle_id")
    }

    static func record(
        _ verification: UUID, vehicle: UUID, type: VerificationType, status: VerificationStatus, expiresAt: Instant?, _ work: UnitOfWork
    ) async throws {
        try await work.query("""
            INSERT INTO fleet.verification (verification_id, vehicle_id, type, status, expires_at)
            VALUES (\(verification), \(vehicle), \(type.rawValue), \(status.rawValue), \(expiresAt)::timestamptz)
            ON CONFLICT (verification_id) DO UPDATE SET status = EXCLUDED.status,
                expires_at = coalesce(EXCLUDED.expires_at, fleet.verification.expires_at), updated_at = now()
            """)
    }

    /// Every gated type has an approved verification unexpired at `instant`.
    static func gateOpen(vehicle: UUID, at instant: Instant, _ work: UnitOfWork) async throws -> Bool {
        try await work.query("""
            SELECT count(DISTINCT type) = cardinality(\(VerificationType.allCases.map(\.rawValue))::text[]) AS open FROM fleet.verification
            WHERE vehicle_id = \(vehicle) AND status = 'APPROVED' AND (expires_at IS NULL OR expires_at > \(instant)::timestamptz)
            """).single().decode(Bool.self, "open")
    }

    /// An approved verification of `type` unexpired at `instant` covers the vehicle.
    static func covered(vehicle: UUID, type: VerificationType, at instant: Instant, _ work: UnitOfWork) async throws -> Bool {
        try await work.query("""
            SELECT EXISTS (SELECT 1 FROM fleet.verification WHERE vehicle_id = \(vehicle) AND type = \(type.rawValue) AND status = 'APPROVED'
                           AND (expires_at IS NULL OR expires_at > \(instant)::timestamptz)) AS covered
            """).single().decode(Bool.self, "covered")
    }
}
