import Foundation
import KaroKarKernel
import Logging

/// Vehicle documents and the expiry sweep (DOMAIN.md section 5, "Vehicle documents"): a
/// registration, insurance or fitness document whose latest expiry has passed suspends the
/// vehicle with the matching reason, from that expiry on.
extension Fleet {
    /// A document of a vehicle the caller owns (until it retires).
    nonisolated func addVehicleDocument(_ new: NewDocument, expectedVersion: Int64?, _ invocation: Invocation) async throws -> VehicleDocument {
        try await changing(vehicle: new.vehicle, expectedVersion: expectedVersion, invocation) { vehicle, work in
            try vehicle.status.checkEditable()
            let document = try await DocumentStore.insert(new, owner: vehicle.organizationID, by: work.actorID, work)
            try await work.publish(VehicleEvents.documentAdded(document))
            return document
        }
    }

    /// A page of a vehicle's documents (of one type, or all), by creation.
    nonisolated func documents(
        of vehicle: UUID, type: DocumentType?, page: Page<TimeKey>, _ invocation: Invocation
    ) async throws -> [VehicleDocument] {
        try await bus.read(invocation) { work in
            _ = try await FleetAccess.historyOf(vehicle, invocation.caller, work)
            return try await DocumentStore.list(vehicle: vehicle, type: type, after: page.after, limit: page.fetchLimit, work)
        }
    }

    /// Finds the expired compliance documents of the caller's fleet (every fleet, for platform
    /// administrators and the system) as of `asOf` (default now) and, unless `dryRun`, suspends
    /// their vehicles. Each vehicle is suspended in a unit of work of its own, and at most one
    /// open suspension per vehicle and reason exists (a unique index), so concurrent sweeps on
    /// several server processes do no harm.
    nonisolated func runDocumentExpirySweep(asOf: Instant?, dryRun: Bool, _ invocation: Invocation) async throws -> ExpirySweepReport {
        let instant = asOf ?? environment.clock.now()
        let owner = FleetTenancy.ownScope(of: invocation.caller)
        let expired = try await bus.read(invocation) { work in try await DocumentStore.expired(at: instant, owner: owner, work) }
        var report = ExpirySweepReport()
        for document in expired {
            var finding = ExpiryFinding(document: document)
            if !dryRun, let reason = document.type.expirySuspension {
                // One transaction per vehicle, not the call's idempotent one: a failure stops at
                // that vehicle, and what was suspended before it stays suspended.
                let opening = SuspensionOpening(reason: reason, period: .from(document.expiresAt ?? Instant(microseconds: 0)), document: document.id)
                finding.suspensionID = try await bus.transaction(invocation.origin) { work in
                    try await suspendForCompliance(document.vehicleID, opening, work)?.id
                }
                if finding.suspensionID != nil { report.suspensionsOpened += 1 }
            }
            report.findings.append(finding)
        }
        return report
    }

    /// The periodic sweep of every fleet, as the system, every `interval` until cancelled.
    nonisolated func sweepPeriodically(every interval: Duration) async {
        let logger = environment.logger
        while !Task.isCancelled {
            do {
                let report = try await runDocumentExpirySweep(asOf: nil, dryRun: false, .system())
                if report.suspensionsOpened > 0 {
                    logger.notice("document expiry sweep suspended vehicles", metadata: ["fleet.suspensions_opened": "\(report.suspensionsOpened)"])
                }
            } catch {
                logger.warning("document expiry sweep failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}
