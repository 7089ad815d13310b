import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres

/// SQL of vehicle documents and of the expiry sweep's question.
enum DocumentStore {
    static let columns = SQLFragment("d.id, d.vehicle_id, d.organization_id, d.type, d.number, d.issued_at, d.expires_at, d.file_ref, d.created_by, d.created_at")

    struct NewDocument: Sendable {
        let vehicle: FleetV1.Vehicle
        let type: FleetV1.VehicleDocumentType
        let number: String
        let issuedAt: PostgresTimestamp
        let expiresAt: PostgresTimestamp?
        let fileRef: String
        let actor: String
    }

    static func insert(_ new: NewDocument, _ work: UnitOfWork) async throws -> FleetV1.VehicleDocument {
        try await work.query("""
            INSERT INTO fleet.document AS d (id, vehicle_id, organization_id, type, number, issued_at, expires_at, file_ref, created_by)
            VALUES (\(UUID.random()), \(new.vehicle.id)::uuid, \(new.vehicle.organizationId)::uuid, \(new.type.storedName ?? ""), \(new.number),
                    \(new.issuedAt)::timestamptz, \(new.expiresAt)::timestamptz, \(new.fileRef), \(new.actor))
            RETURNING \(columns)
            """).single().document()
    }

    static func list(vehicle: UUID, type: String?, after: (PostgresTimestamp, UUID)?, limit: Int, _ work: UnitOfWork) async throws -> [FleetV1.VehicleDocument] {
        try await work.query("""
            SELECT \(columns) FROM fleet.document AS d
            WHERE d.vehicle_id = \(vehicle) AND (\(type)::text IS NULL OR d.type = \(type)::text)
              AND (\(after?.0)::timestamptz IS NULL OR (d.created_at, d.id) > (\(after?.0)::timestamptz, \(after?.1)::uuid))
            ORDER BY d.created_at, d.id LIMIT \(limit)
            """).map { try $0.document() }
    }

    /// True when the vehicle has a document of `type` valid at `instant`.
    static func hasValid(vehicle: UUID, type: String, at instant: PostgresTimestamp, _ work: UnitOfWork) async throws -> Bool {
        try await work.query("""
            SELECT EXISTS (SELECT 1 FROM fleet.document WHERE vehicle_id = \(vehicle) AND type = \(type)
                           AND issued_at <= \(instant)::timestamptz AND expires_at > \(instant)::timestamptz) AS valid
            """).single().decode(Bool.self, "valid")
    }

    struct Expired: Sendable {
        let vehicle: UUID
        let owner: UUID
        let document: FleetV1.VehicleDocument
    }

    /// For each active or suspended vehicle in reach and each compliance type, the document with
    /// the latest expiry, when that expiry is at or before `instant`.
    static func expired(at instant: PostgresTimestamp, owner: UUID?, _ work: UnitOfWork) async throws -> [Expired] {
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
            """).map { row in
            let document = try row.document()
            return Expired(vehicle: try row.decode(UUID.self, "vehicle_id"), owner: try row.decode(UUID.self, "organization_id"), document: document)
        }
    }
}

/// The marketplace search (DOMAIN.md section 5, "Search").
enum SearchStore {
    struct Query: Sendable {
        let period: PostgresTimestampRange
        /// Platform administrators see every listing; others vendors' listings plus their own fleet.
        let everything: Bool
        let caller: UUID
        let vendor: UUID?
        let make: String?
        let model: String?
        let yearMin: Int32?
        let yearMax: Int32?
        let ownership: String?
        let after: UUID?
        let limit: Int
    }

    /// `ACTIVE` vehicles of `ACTIVE` owners with no open record overlapping the period, by id.
    ///
    /// The availability test is a scalar subquery on purpose: PostgreSQL then probes the open
    /// records' GiST index once per candidate while walking listings in id order, and stops at
    /// the page's end, instead of planning an anti-join over every record (see the benchmark
    /// note in the README: 100,000 vehicles, 1,000,000 records).
    static func search(_ query: Query, _ work: UnitOfWork) async throws -> [FleetV1.Vehicle] {
        try await work.query("""
            SELECT \(VehicleStore.columns) FROM fleet.vehicle AS v
            JOIN fleet.owner AS o ON o.organization_id = v.organization_id AND o.status = 'ACTIVE'
            WHERE v.status = 'ACTIVE'
              AND (\(query.everything) OR v.ownership_type = 'VENDOR_OWNED' OR v.organization_id = \(query.caller))
              AND (\(query.ownership)::text IS NULL OR v.ownership_type = \(query.ownership)::text)
              AND (\(query.vendor)::uuid IS NULL OR v.organization_id = \(query.vendor)::uuid)
              AND (\(query.make)::text IS NULL OR lower(v.make) = lower(\(query.make)::text))
              AND (\(query.model)::text IS NULL OR lower(v.model) = lower(\(query.model)::text))
              AND (\(query.yearMin)::int IS NULL OR v.year >= \(query.yearMin)::int)
              AND (\(query.yearMax)::int IS NULL OR v.year <= \(query.yearMax)::int)
              AND (\(query.after)::uuid IS NULL OR v.id > \(query.after)::uuid)
              AND (SELECT NOT EXISTS (
                  SELECT 1 FROM fleet.availability AS a
                  WHERE a.vehicle_id = v.id AND a.released_at IS NULL AND a.period && \(query.period)::tstzrange))
            ORDER BY v.id LIMIT \(query.limit)
            """).map { try $0.vehicle() }
    }
}
