import Foundation
@testable import FleetContext
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServer
import KaroKarTestSupport
import Logging

/// Fleet on a fresh, fully migrated database, driven through its RPC handlers with callers made
/// by hand (the transport and the authorization interceptor are tested elsewhere; these tests
/// are about Fleet's rules and the database's invariants).
struct FleetWorld {
    let pool: PostgresPool
    let bus: EventBus
    let fleet: Fleet
    let handler: FleetHandler
    let availability: AvailabilityHandler

    static func make() async throws -> FleetWorld {
        // The invariant tests queue 64 writers on one vehicle's lock; on a loaded CI machine the
        // queue outlasted the pool's 5 s acquire timeout (KK001 instead of VEHICLE_NOT_AVAILABLE).
        let (pool, _) = try await TestDatabase.fresh(maximumConnections: 20, acquireTimeout: .seconds(30))
        try await MigrationRunner.migrate(Database.migrations, pool: pool)
        let bus = EventBus(pool: pool)
        var logger = Logger(label: "fleet-test")
        logger.logLevel = .critical
        let fleet = Fleet(environment: ContextEnvironment(bus: bus, pages: PageTokens(), logger: logger))
        return FleetWorld(pool: pool, bus: bus, fleet: fleet, handler: FleetHandler(fleet: fleet), availability: AvailabilityHandler(fleet: fleet))
    }

    /// An organization as Fleet learns of it: registered, then (unless `status` says otherwise) approved.
    func organization(_ kind: TenantKind, status: String = "ACTIVE") async throws -> UUID {
        let id = UUID()
        let type: EventsV1.OrganizationType = kind == .vendor ? .vendor : kind == .corporate ? .corporate : .platform
        try await bus.transaction(.system()) { work in
            try await work.publish(EventDraft(
                "organization.registered", aggregateType: "organization", aggregateID: id.postgresText,
                payload: .organizationRegistered(EventsV1.OrganizationRegistered(organizationId: id.postgresText, name: "Org", organizationType: type))
            ))
            let payload: EventsV1.EventEnvelope.PayloadOneof? = switch status {
            case "ACTIVE": .organizationApproved(EventsV1.OrganizationApproved(organizationId: id.postgresText, organizationType: type))
            case "SUSPENDED": .organizationSuspended(EventsV1.OrganizationSuspended(organizationId: id.postgresText, organizationType: type))
            case "REJECTED": .organizationRejected(EventsV1.OrganizationRejected(organizationId: id.postgresText, organizationType: type))
            default: nil
            }
            if let payload {
                let name = ["ACTIVE": "organization.approved", "SUSPENDED": "organization.suspended", "REJECTED": "organization.rejected"][status]!
                try await work.publish(EventDraft(name, aggregateType: "organization", aggregateID: id.postgresText, payload: payload))
            }
        }
        return id
    }

    /// A call context whose caller acts for `organization` with every Fleet permission.
    func context(_ organization: UUID, _ kind: TenantKind, permissions: Set<Permission> = Set(Permission.allCases)) -> ServerCallContext {
        var context = ServerCallContext(
            path: "/test", service: "test", method: "test", callID: 1, metadata: Metadata(), deadline: nil, peer: "test",
            logger: Logger(label: "test")
        )
        context.caller = Caller(
            kind: .user, principalID: UUID(), organizationID: organization, organizationKind: kind, membershipID: UUID(), permissions: permissions
        )
        return context
    }

    /// A registered, activated vehicle of `owner`.
    func activeVehicle(_ owner: UUID, _ kind: TenantKind, make: String = "Tata", model: String = "Nexon", year: Int32 = 2024) async throws -> FleetV1.Vehicle {
        let context = context(owner, kind)
        let registered = try await handler.registerVehicle(FleetV1.RegisterVehicleRequest(
            ownershipType: kind == .vendor ? .vendorOwned : .corporateOwned, make: make, model: model, year: year,
            licensePlate: "KA \(Int.random(in: 10...99)) \(UUID().uuidString.prefix(6))"
        ), context: context).vehicle!
        try await verified(UUID(hyphenated: registered.id)!, owner: owner)
        return try await handler.activateVehicle(FleetV1.ActivateVehicleRequest(vehicleId: registered.id), context: context).vehicle!
    }

    /// The vehicle's three verifications (registration, insurance, fitness), approved, as Fleet
    /// learns of them: the Verification context's `verification.approved` events (its own tests
    /// drive the real path; these are about Fleet).
    func verified(_ vehicle: UUID, owner: UUID, expiresAt: CommonV1.Timestamp? = nil) async throws {
        try await bus.transaction(.system(organizationID: owner.postgresText)) { work in
            for type in [EventsV1.VerificationType.vehicleRegistration, .insurance, .fitnessCertificate] {
                let id = UUID().postgresText
                try await work.publish(EventDraft(
                    "verification.approved", aggregateType: "verification", aggregateID: id, aggregateVersion: 2,
                    payload: .verificationApproved(EventsV1.VerificationApproved(
                        verificationId: id, subjectType: .vehicle, subjectId: vehicle.postgresText, organizationId: owner.postgresText,
                        verificationType: type, method: .manual, reviewedBy: CommonV1.StringValue(value: UUID().postgresText), expiresAt: expiresAt
                    ))
                ))
            }
        }
    }

    func count(_ sql: SQL) async throws -> Int {
        try await pool.query(sql).single().decode(Int.self, at: 0)
    }
}

/// `[start, end)` in days from a fixed origin (2027-07-01T00:00:00Z), optionally shifted by seconds.
func days(_ start: Double, _ end: Double?) -> (CommonV1.Timestamp, CommonV1.Timestamp?) {
    let origin: Int64 = 1_814_400_000
    func at(_ day: Double) -> CommonV1.Timestamp { CommonV1.Timestamp(seconds: origin + Int64(day * 86_400)) }
    return (at(start), end.map(at))
}

func period(_ start: Double, _ end: Double) -> CommonV1.Period {
    let (s, e) = days(start, end)
    return CommonV1.Period(start: s, end: e)
}

func openPeriod(_ start: Double, _ end: Double? = nil) -> CommonV1.OpenPeriod {
    let (s, e) = days(start, end)
    return CommonV1.OpenPeriod(start: s, end: e)
}

extension Error {
    var domainCode: String? { (self as? any RPCErrorConvertible)?.rpcError.domainCode ?? (self as? RPCError)?.domainCode }
    var rpcCode: RPCCode? { (self as? any RPCErrorConvertible)?.rpcError.code ?? (self as? RPCError)?.code }
}
