import Foundation
import KaroKarKernel
import KaroKarMessages

extension OrganizationSummaryRecord {
    var message: AdministrationV1.OrganizationSummary {
        AdministrationV1.OrganizationSummary(
            organizationId: organizationID.lowercasedString, name: name,
            organizationType: AdministrationV1.OrganizationType(rawValue: kind.protoNumber),
            status: AdministrationV1.OrganizationStatus(rawValue: status.protoNumber),
            applicantUserId: applicantUserID.lowercasedString, registeredAt: registeredAt.timestamp, version: version
        )
    }
}

extension ApprovalStatus {
    var proto: AdministrationV1.ApprovalStatus {
        switch self {
        case .pending: .pending
        case .approved: .approved
        case .rejected: .rejected
        case .revoked: .revoked
        case .reinstated: .reinstated
        }
    }
}

extension ApprovalRecord {
    var message: AdministrationV1.OrganizationApproval {
        AdministrationV1.OrganizationApproval(
            id: id.lowercasedString, organizationId: organizationID.lowercasedString, status: status.proto,
            reviewedBy: reviewedBy.map { CommonV1.StringValue(value: $0.lowercasedString) },
            reviewerOrganizationId: reviewerOrganizationID.map { CommonV1.StringValue(value: $0.lowercasedString) },
            reviewedAt: reviewedAt?.timestamp, notes: notes.map { CommonV1.StringValue(value: $0) }, createdAt: createdAt.timestamp
        )
    }
}

extension ModerationActionType {
    var proto: AdministrationV1.ModerationActionType {
        switch self {
        case .suspendVehicle: .suspendVehicle
        case .blockVehicle: .blockVehicle
        case .terminateBooking: .terminateBooking
        case .disableUser: .disableUser
        }
    }

    init?(_ proto: AdministrationV1.ModerationActionType) {
        guard let match = Self.allCases.first(where: { $0.proto == proto }) else { return nil }
        self = match
    }
}

extension ModerationActionRecord {
    var message: AdministrationV1.ModerationAction {
        AdministrationV1.ModerationAction(
            id: id.lowercasedString, actionType: actionType.proto, targetType: targetType, targetId: targetID.lowercasedString,
            notes: notes, performedBy: performedBy.lowercasedString, performedAt: performedAt.timestamp
        )
    }
}

extension DashboardCounts {
    var message: AdministrationV1.DashboardCounts {
        AdministrationV1.DashboardCounts(
            pendingApprovals: pendingApprovals,
            organizations: organizations.map { entry in
                AdministrationV1.OrganizationCount(
                    organizationType: AdministrationV1.OrganizationType(rawValue: entry.kind.protoNumber),
                    status: AdministrationV1.OrganizationStatus(rawValue: entry.status.protoNumber), count: entry.count
                )
            },
            vehicles: vehicles.map { entry in
                AdministrationV1.VehicleCount(status: AdministrationV1.VehicleStatus(storedName: entry.status) ?? .unspecified, count: entry.count)
            },
            bookings: bookings.map { entry in
                AdministrationV1.BookingCount(status: AdministrationV1.BookingStatus(storedName: entry.status) ?? .unspecified, count: entry.count)
            },
            computedAt: computedAt.timestamp
        )
    }
}
