import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres

/// What Fleet does when other contexts' events are published, inside their transactions:
/// invariants depend on these (a suspended vendor's vehicles leave search at once; a moderation
/// request fails when Fleet cannot apply it).
enum FleetReactions {
    static func install(on bus: EventBus) {
        bus.react(to: "organization.*", as: "fleet.owners") { event, work in
            try await recordOwner(event, work)
        }
        bus.react(to: "moderation.vehicle_suspension_requested", "moderation.vehicle_block_requested", as: "fleet.moderation") { event, work in
            try await moderate(event, work)  // Fleet's events keep the administrator as actor
        }
        bus.react(to: "verification.*", as: "fleet.verifications") { event, work in
            try await recordVerification(event, work)
        }
        installBookingReactions(on: bus)
    }

    /// Every organization event carries the organization's type; the event says its new status.
    static func recordOwner(_ event: EventsV1.EventEnvelope, _ work: UnitOfWork) async throws {
        let fact: (String, EventsV1.OrganizationType, String)?
        switch event.payload {
        case .organizationRegistered(let p): fact = (p.organizationId, p.organizationType, "PENDING")
        case .organizationApproved(let p): fact = (p.organizationId, p.organizationType, "ACTIVE")
        case .organizationReinstated(let p): fact = (p.organizationId, p.organizationType, "ACTIVE")
        case .organizationSuspended(let p): fact = (p.organizationId, p.organizationType, "SUSPENDED")
        case .organizationRejected(let p): fact = (p.organizationId, p.organizationType, "REJECTED")
        default: fact = nil
        }
        guard let (id, type, status) = fact, let organization = UUID(hyphenated: id),
              let kind = type.storedName.flatMap(TenantKind.init(rawValue:))
        else { return }
        try await VehicleStore.upsertOwner(organization, kind: kind, status: status, work)
    }

    static func moderate(_ event: EventsV1.EventEnvelope, _ work: UnitOfWork) async throws {
        switch event.payload {
        case .vehicleSuspensionRequested(let request):
            var check = Validation()
            let vehicleID = check.uuid(request.vehicleId, "vehicleId")
            let period = check.openPeriod(request.period, "period")
            try check.finish()
            let vehicle = try await FleetAccess.ownedVehicle(vehicleID, nil, work)
            try ExpectedVersion.check(request.expectedVersion, vehicle.version, "vehicle")
            _ = try await SuspensionOperations.open(vehicle, .init(
                reason: .adminAction, period: period, notes: request.notes.isEmpty ? nil : request.notes,
                moderationAction: request.moderationActionId
            ), work)
        case .vehicleBlockRequested(let request):
            var check = Validation()
            let vehicleID = check.uuid(request.vehicleId, "vehicleId")
            let period = check.period(request.period, "period")
            let reason = check.text(request.reason, "reason", maximumLength: 500)
            try check.finish()
            let vehicle = try await FleetAccess.ownedVehicle(vehicleID, nil, work)
            try ExpectedVersion.check(request.expectedVersion, vehicle.version, "vehicle")
            _ = try await HoldOperations.placeBlock(vehicle, period: period, reason: reason, moderationAction: request.moderationActionId, work)
        default:
            return
        }
    }

    /// Keeps the activation gate's view, and suspends a vehicle whose verification expired or was revoked.
    static func recordVerification(_ event: EventsV1.EventEnvelope, _ work: UnitOfWork) async throws {
        let fact: (id: String, subject: EventsV1.VerificationSubjectType, subjectID: String, type: EventsV1.VerificationType, status: String, expires: CommonV1.Timestamp?)
        switch event.payload {
        case .verificationApproved(let p): fact = (p.verificationId, p.subjectType, p.subjectId, p.verificationType, "APPROVED", p.expiresAt)
        case .verificationRejected(let p): fact = (p.verificationId, p.subjectType, p.subjectId, p.verificationType, "REJECTED", nil)
        case .verificationExpired(let p): fact = (p.verificationId, p.subjectType, p.subjectId, p.verificationType, "EXPIRED", nil)
        case .verificationRevoked(let p): fact = (p.verificationId, p.subjectType, p.subjectId, p.verificationType, "REVOKED", nil)
        default: return
        }
        guard let type = fact.type.storedName, VerificationStore.gatedTypes.contains(type), let id = UUID(hyphenated: fact.id),
              let vehicleID = try await VerificationStore.vehicle(subject: fact.subject, id: fact.subjectID, work)
        else { return }
        let expires = fact.expires.map { PostgresTimestamp(seconds: $0.seconds, nanos: $0.nanos) }
        try await VerificationStore.record(id, vehicle: vehicleID, type: type, status: fact.status, expiresAt: expires, work)
        guard fact.status == "EXPIRED" || fact.status == "REVOKED", let reason = suspensionReason(forVerification: type) else { return }
        let vehicle = try await FleetAccess.ownedVehicle(vehicleID, nil, work)
        let state = VehicleOperations.state(vehicle)
        let alreadyOpen = try await SuspensionStore.openOnes(vehicle: vehicleID, work).contains { $0.reason == reason }
        guard state == .active || state == .suspended, !alreadyOpen else { return }
        let now = PostgresTimestamp(seconds: Int64(Date().timeIntervalSince1970))
        _ = try await SuspensionOperations.open(vehicle, .init(
            reason: reason, period: PostgresTimestampRange(lower: now, upper: nil), verification: fact.id
        ), work)
    }

    static func suspensionReason(forVerification type: String) -> FleetV1.SuspensionReason? {
        switch type {
        case "VEHICLE_REGISTRATION": .registrationExpired
        case "INSURANCE": .insuranceExpired
        case "FITNESS_CERTIFICATE": .fitnessCertificateExpired
        default: nil
        }
    }
}
