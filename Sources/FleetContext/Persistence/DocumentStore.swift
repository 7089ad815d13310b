import Foundation
import KaroKarKernel
import KaroKarPostgres

/// SQL of vehicle documents and of the expiry sweep's question.
enum DocumentStore {
    static let columns = SQLFragment("d.id, d.vehicle_id, d.organization_id, d.type, d.number, d.issued_at, d.expires_at, d.file_ref, d.created_by, d.created_at")

    static func insert(_ new: NewDocument, owner: UUID, by actor: String, _ work: UnitOfWork) async throws -> VehicleDocument {
        try await work.query("""
            INSERT INTO fleet.document AS d (id, vehicle_id, organization_id, type, number, issued_at, expires_at, file_ref, created_by)
            VALUES (\(UUID.random()), \(new.vehicle), \(owner), \(new.type.rawValue), \(new.number),
                    \(new.issuedAt)::timestamptz, \(new.expiresAt)::timestamptz, \(new.fileRef), \(actor))
            RETURNING \(columns)
            """).single().document()
    }

    static func list(vehicle: UUID, type: DocumentType?, after: TimeKey?, limit: Int, _ work: UnitOfWork) async throws -> [VehicleDocument] {
        try await work.query("""
            SELECT \(columns) FROM fleet.document AS d
            WHERE d.vehicle_id = \(vehicle) AND (\(type?.rawValue)::text IS NULL OR d.type = \(type?.rawValue)::text)
              AND (\(after?.time)::timestamptz IS NULL OR (d.created_at, d.id) > (\(after?.time)::timestamptz, \(after?.id)::uuid))
            ORDER BY d.created_at, d.id LIMIT \(limit)
            """).map { try $0.document() }
    }

    /// True when the vehicle has a document of `type` valid at `instant`.
    static func hasValid(vehicle: UUID, type: DocumentType, at instant: Instant, _ work: UnitOfWork) async throws -> Bool {
        try await work.query("""
            SELECT EXISTS (SELECT 1 FROM fleet.document WHERE vehicle_id = \(vehicle) AND type = \(type.rawValue)
                           AND issued_at <= \(instant)::timestamptz AND expires_at > \(instant)::timestamptz) AS valid
            """).single().decode(Bool.self, "valid")
    }

    /// For each active or suspended vehicle (of `owner`, or every one) and each compliance type,
    /// the document with the latest expiry, when that expiry is at or before `instant`.
    static func expired(at instant: Instant, owner: UUID?, _ work: UnitOfWork) async throws -> [VehicleDocument] {
        try await work.query("""
            SELECT \(columns) FROM (
                SELECT DISTINCT ON (doc.vehicle_id, doc.type) doc.*
                FROM fleet.document AS doc JOIN fleet.vehicle AS v ON v.id = doc.vehicle_id
                WHERE doc.type IN ('REGISTRATION', 'INSURANCE', 'FITNESS_CERTIFICATE') AND v.status IN ('ACTIVE', 'SUSPENDED')
                  AND (\(owner)::uuid IS NULL OR v.organization_id = \(owner)::uuid)
                ORDER BY doc.vehicle_id, doc.type, doc.expires_at DESC, doc.id
            ) AS d
            WHERE d.expires_at <= \(instant)::timestamptz
            ORDER BY d.vehicle_id, d.type
            """).map { try $0.document() }
    }
}

extension DocumentStore {
    static func get(_ id: UUID, _ work: UnitOfWork) async throws -> VehicleDocument? {
        try await work.query("SELECT \(columns) FROM fleet.document AS d WHERE d.id = \(id)").first { _ in true }?.document()
    }
}
