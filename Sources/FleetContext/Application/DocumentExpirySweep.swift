import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import Logging

/// Suspends vehicles whose registration, insurance or fitness document has expired (DOMAIN.md
/// section 5), with the matching reason. The RPC and the periodic job run the same code. Each
/// vehicle is suspended in a unit of work of its own, and at most one open suspension per
/// vehicle and reason exists (a unique index), so concurrent sweeps on several server processes
/// do no harm.
enum DocumentExpirySweep {
    static func run(
        asOf: PostgresTimestamp, owner: UUID?, dryRun: Bool, bus: EventBus, origin: EventOrigin
    ) async throws -> FleetV1.RunDocumentExpirySweepResponse {
        let expired = try await bus.transaction(origin) { try await DocumentStore.expired(at: asOf, owner: owner, $0) }
        var response = FleetV1.RunDocumentExpirySweepResponse()
        for item in expired {
            var finding = FleetV1.DocumentExpiryFinding(
                vehicleId: item.vehicle.postgresText, organizationId: item.owner.postgresText, documentId: item.document.id,
                documentType: item.document.type, expiredAt: item.document.expiresAt
            )
            if !dryRun, let suspension = try await suspend(item, bus: bus, origin: origin) {
                finding.suspensionId = CommonV1.StringValue(value: suspension.id)
                response.suspensionsOpened += 1
            }
            response.findings.append(finding)
        }
        return response
    }

    /// nil when the vehicle is no longer suspendable or already has this suspension open.
    private static func suspend(_ item: DocumentStore.Expired, bus: EventBus, origin: EventOrigin) async throws -> FleetV1.VehicleSuspension? {
        guard let reason = reason(for: item.document.type) else { return nil }
        return try await bus.transaction(origin) { work in
            let vehicle = try await FleetAccess.ownedVehicle(item.vehicle, nil, work)
            let state = VehicleOperations.state(vehicle)
            let open = try await SuspensionStore.openOnes(vehicle: item.vehicle, work)
            guard state == .active || state == .suspended, !open.contains(where: { $0.reason == reason }) else { return nil }
            let start = item.document.expiresAt.map { PostgresTimestamp(seconds: $0.seconds, nanos: $0.nanos) } ?? PostgresTimestamp(seconds: 0)
            return try await SuspensionOperations.open(vehicle, .init(
                reason: reason, period: PostgresTimestampRange(lower: start, upper: nil), document: UUID(hyphenated: item.document.id)
            ), work).0
        }
    }

    static func reason(for type: FleetV1.VehicleDocumentType) -> FleetV1.SuspensionReason? {
        switch type {
        case .registration: .registrationExpired
        case .insurance: .insuranceExpired
        case .fitnessCertificate: .fitnessCertificateExpired
        default: nil
        }
    }

    /// The periodic job: sweeps every fleet every `interval`, until cancelled.
    static func runPeriodically(every interval: Duration, bus: EventBus, logger: Logger) async {
        while !Task.isCancelled {
            do {
                let now = PostgresTimestamp(seconds: Int64(Date().timeIntervalSince1970))
                let result = try await run(asOf: now, owner: nil, dryRun: false, bus: bus, origin: .system())
                if result.suspensionsOpened > 0 {
                    logger.notice("document expiry sweep suspended vehicles", metadata: ["fleet.suspensions_opened": "\(result.suspensionsOpened)"])
                }
            } catch {
                logger.warning("document expiry sweep failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}
