import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport

/// The real server over TCP with an ACTIVE vendor (its admin signs in) and the platform
/// administrator: what every Verification test starts with. Each test starts its own database and
/// server, so the suites run their tests one at a time (`.serialized`): the third test group runs
/// every context's suites at once on two cores, and the pool-timing suites of the others should
/// not starve for it.
struct VerificationWorld {
    let market: TestMarketplace
    let vendor: TestOrganization
    let platform: TestSession

    static func make(_ market: TestMarketplace) async throws -> VerificationWorld {
        VerificationWorld(market: market, vendor: try await market.onboard(.vendor), platform: try await market.platformAdmin())
    }

    var verifications: VerificationV1.VerificationService.Client { market.verifications }
    var fleet: FleetV1.FleetService.Client { FleetV1.FleetService.Client(market.client) }
    var pool: PostgresPool { market.pool }

    /// A PENDING (registered, not activated) vehicle of `owner`.
    func vehicle(of owner: TestOrganization? = nil) async throws -> FleetV1.Vehicle {
        let owner = owner ?? vendor
        return try await fleet.registerVehicle(.init(
            ownershipType: owner.type == .vendor ? .vendorOwned : .corporateOwned, make: "Tata", model: "Nexon", year: 2024,
            licensePlate: "KA\(UUID().uuidString.prefix(8))"
        ), options: owner.admin.callOptions).vehicle!
    }

    func submit(
        _ subject: String, _ type: VerificationV1.VerificationType, subjectType: VerificationV1.VerificationSubjectType = .vehicle,
        as session: TestSession? = nil, method: VerificationV1.VerificationMethod = .manual, provider: String? = nil,
        expiresAt: CommonV1.Timestamp? = nil, key: String? = nil
    ) async throws -> VerificationV1.Verification {
        try await verifications.submitVerification(.init(
            subjectType: subjectType, subjectId: subject, type: type, method: method, provider: provider.map { CommonV1.StringValue(value: $0) },
            documentRefs: ["s3://docs/\(subject)/\(type)"], expiresAt: expiresAt, notes: "policy attached"
        ), options: (session ?? vendor.admin).options(idempotencyKey: key)).verification!
    }

    func approve(_ id: String, expiresAt: CommonV1.Timestamp? = nil, version: Int64? = nil) async throws -> VerificationV1.Verification {
        try await verifications.approveVerification(.init(
            verificationId: id, expiresAt: expiresAt, notes: .init(value: "checked"), expectedVersion: version.map { .init(value: $0) }
        ), options: platform.callOptions).verification!
    }

    func reject(_ id: String, _ reason: String = "illegible") async throws -> VerificationV1.Verification {
        try await verifications.rejectVerification(.init(verificationId: id, reason: reason), options: platform.callOptions).verification!
    }

    func revoke(_ id: String, _ reason: String = "policy cancelled") async throws -> VerificationV1.Verification {
        try await verifications.revokeVerification(.init(verificationId: id, reason: reason), options: platform.callOptions).verification!
    }

    func get(_ id: String, as session: TestSession? = nil) async throws -> VerificationV1.Verification {
        try await verifications.getVerification(.init(verificationId: id), options: (session ?? platform).callOptions).verification!
    }

    /// The event types of the outbox about `aggregate`, in order.
    func events(of aggregate: String) async throws -> [String] {
        try await pool.query("SELECT event_type FROM karokar_events.outbox WHERE aggregate_id = \(aggregate) ORDER BY seq")
            .map { try $0.decode(String.self, "event_type") }
    }

    func count(_ sql: SQL) async throws -> Int {
        try await pool.query(sql).single().decode(Int.self, at: 0)
    }

    /// Polls `id` until `done` holds (an asynchronous decision), for at most `seconds`.
    func waitFor(
        _ id: String, seconds: Double = 20, _ done: (VerificationV1.Verification) -> Bool
    ) async throws -> VerificationV1.Verification {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let current = try await get(id)
            if done(current) || Date() > deadline { return current }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// Seconds from now, as a wire timestamp.
func fromNow(_ seconds: Int64) -> CommonV1.Timestamp {
    CommonV1.Timestamp(seconds: Int64(Date().timeIntervalSince1970) + seconds)
}

/// Seconds after the manual clock's now, as a wire timestamp.
func after(_ clock: ManualClock, _ seconds: Int64) -> CommonV1.Timestamp {
    CommonV1.Timestamp(seconds: clock.now().seconds + seconds)
}

/// `[start, end)` in days from a fixed future origin (2027-07-01T00:00:00Z).
func period(_ start: Int64, _ end: Int64) -> CommonV1.Period {
    let origin: Int64 = 1_814_400_000
    return CommonV1.Period(start: .init(seconds: origin + start * 86_400), end: .init(seconds: origin + end * 86_400))
}
