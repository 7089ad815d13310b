import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarProto

/// The `allocation.*` events (DOMAIN.md 6.1): aggregate `allocation`, id
/// `<corporate>/<employee>` (`<corporate>/default` for the corporate's default).
enum AllocationEvents {
    static func set(_ a: Allocation, by caller: Caller) -> EventDraft {
        EventDraft("allocation.set", aggregateType: "allocation", aggregateID: aggregateID(a.corporateID, a.employee), aggregateVersion: a.version,
                   payload: .allocationSet(EventsV1.AllocationSet(
                       corporateOrganizationId: a.corporateID.lowercasedString,
                       employeeId: a.employee.map { CommonV1.StringValue(value: $0.lowercasedString) },
                       maxActiveBookings: UInt32(clamping: a.maxActiveBookings), maxDaysPerMonth: UInt32(clamping: a.maxDaysPerMonth),
                       allocationVersion: a.version, setBy: caller.actorName
                   )))
    }

    /// `removed`: the override as it was; the event's aggregate version is one past it.
    static func removed(_ a: Allocation, employee: UUID, by caller: Caller) -> EventDraft {
        EventDraft("allocation.removed", aggregateType: "allocation", aggregateID: aggregateID(a.corporateID, employee),
                   aggregateVersion: a.version + 1,
                   payload: .allocationRemoved(EventsV1.AllocationRemoved(
                       corporateOrganizationId: a.corporateID.lowercasedString, employeeId: employee.lowercasedString,
                       maxActiveBookings: UInt32(clamping: a.maxActiveBookings), maxDaysPerMonth: UInt32(clamping: a.maxDaysPerMonth),
                       allocationVersion: a.version, removedBy: caller.actorName
                   )))
    }

    static func aggregateID(_ corporate: UUID, _ employee: UUID?) -> String {
        corporate.lowercasedString + "/" + (employee?.lowercasedString ?? "default")
    }
}
