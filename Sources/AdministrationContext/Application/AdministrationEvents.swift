import Foundation
import KaroKarKernel
import KaroKarMessages

/// The events of organization decisions.
enum DecisionEvents {
    static func draft(_ decision: Decision, summary: OrganizationSummaryRecord, approval: ApprovalRecord) -> EventDraft {
        let organization = summary.organizationID.lowercasedString
        let type = EventsV1.OrganizationType(rawValue: summary.kind.protoNumber)
        let reviewer = approval.reviewedBy?.lowercasedString ?? ""
        let reviewerOrganization = approval.reviewerOrganizationID?.lowercasedString ?? ""
        let approvalID = approval.id.lowercasedString
        let applicant = summary.applicantUserID.lowercasedString
        let notes = approval.notes.map { CommonV1.StringValue(value: $0) }
        let payload: EventsV1.EventEnvelope.PayloadOneof = switch decision {
        case .approve:
            .organizationApproved(EventsV1.OrganizationApproved(
                organizationId: organization, organizationType: type, approvalId: approvalID, reviewedBy: reviewer,
                reviewerOrganizationId: reviewerOrganization, notes: notes, applicantUserId: applicant
            ))
        case .reject:
            .organizationRejected(EventsV1.OrganizationRejected(
                organizationId: organization, organizationType: type, approvalId: approvalID, reviewedBy: reviewer,
                reviewerOrganizationId: reviewerOrganization, notes: approval.notes ?? "", applicantUserId: applicant
            ))
        case .suspend:
            .organizationSuspended(EventsV1.OrganizationSuspended(
                organizationId: organization, organizationType: type, approvalId: approvalID, reviewedBy: reviewer,
                reviewerOrganizationId: reviewerOrganization, notes: approval.notes ?? "", applicantUserId: applicant
            ))
        case .reinstate:
            .organizationReinstated(EventsV1.OrganizationReinstated(
                organizationId: organization, organizationType: type, approvalId: approvalID, reviewedBy: reviewer,
                reviewerOrganizationId: reviewerOrganization, notes: notes, applicantUserId: applicant
            ))
        }
        return EventDraft(
            decision.eventType, aggregateType: "organization", aggregateID: organization, aggregateVersion: summary.version, payload: payload
        )
    }
}

/// Administration's in-transaction reaction to registrations: its copy of the organization,
/// and for vendors and corporates the `PENDING` approval that awaits a decision. The platform
/// organization (bootstrap) is recorded `ACTIVE`, with no approval.
enum AdministrationReactions {
    static func subscribe(to bus: EventBus) {
        bus.react(to: "organization.registered", as: "administration.open_approval") { event, work in
            guard case .organizationRegistered(let registered) = event.payload,
                  let id = UUID(hyphenated: registered.organizationId), let applicant = UUID(hyphenated: registered.adminUserId),
                  let kind = TenantKind(protoNumber: registered.organizationType.rawValue)
            else { throw CorruptRow(description: "organization.registered without its payload") }
            let occurred = event.occurredAt.map(Instant.init) ?? Instant(microseconds: 0)
            let summary = OrganizationSummaryRecord(
                organizationID: id, name: registered.name, kind: kind, status: kind == .platform ? .active : .pending,
                applicantUserID: applicant, registeredAt: occurred, version: max(event.aggregateVersion, 1)
            )
            try await ApprovalStore.insertSummary(summary, on: work)
            if kind != .platform {
                _ = try await ApprovalStore.append(.pending, organization: id, review: nil, on: work)
            }
        }
        // The dashboard's booking counts: after commit, read from the outbox as a log (events
        // migration 8), each batch in one statement; a version already recorded wins over an
        // older one, so reading an event again changes nothing.
        bus.consumeLog("booking.*", as: "administration_bookings") { events, work in
            var latest = LatestStatuses()
            for event in events {
                guard let status = BookingCountStore.status(after: event.eventType), let id = UUID(hyphenated: event.aggregateId) else { continue }
                latest.note(id, status: status, version: event.aggregateVersion)
            }
            try await BookingCountStore.record(latest, on: work)
        }
        // The dashboard's vehicle counts: the same, from Fleet's lifecycle events.
        bus.consumeLog(VehicleStatusEvents.types.map { EventPattern(stringLiteral: $0) }, as: "administration_vehicles") { events, work in
            var latest = LatestStatuses()
            for event in events {
                var lifted: String?
                if case .vehicleSuspensionLifted(let payload) = event.payload { lifted = payload.vehicleStatus.storedName }
                guard let status = VehicleStatusEvents.status(after: event.eventType, liftedTo: lifted),
                      let id = UUID(hyphenated: event.aggregateId)
                else { continue }
                latest.note(id, status: status, version: event.aggregateVersion)
            }
            try await VehicleCountStore.record(latest, on: work)
        }
    }
}

extension TenantKind {
    /// The number of the proto enums' matching value (the same in every package's copy).
    var protoNumber: Int32 {
        switch self {
        case .platform: 1
        case .vendor: 2
        case .corporate: 3
        }
    }

    init?(protoNumber: Int32) {
        guard let match = Self.allCases.first(where: { $0.protoNumber == protoNumber }) else { return nil }
        self = match
    }
}

extension TenantStatus {
    var protoNumber: Int32 {
        switch self {
        case .pending: 1
        case .active: 2
        case .suspended: 3
        case .rejected: 4
        }
    }
}
