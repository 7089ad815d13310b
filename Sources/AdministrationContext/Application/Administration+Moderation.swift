import Foundation
import KaroKarKernel
import KaroKarMessages

/// Moderation verbs and their log. Each appends a ModerationAction and publishes a request the
/// owning context applies in the same transaction; its refusal (unknown target, stale version, a
/// conflicting record) fails the whole verb, and nothing is logged.
extension Administration {
    /// An indefinite ADMIN_ACTION suspension of a vehicle, from `period.start` (or now).
    nonisolated func suspendVehicle(
        _ vehicle: UUID, period: Period?, notes: String, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> ModerationActionRecord {
        try PlatformOnly.check(invocation.caller)
        let period = period ?? .from(environment.clock.now())
        return try await moderateVehicle(.suspendVehicle, vehicle, notes: notes, invocation) { id in
            .vehicleSuspensionRequested(EventsV1.VehicleSuspensionRequested(
                moderationActionId: id, vehicleId: vehicle.lowercasedString, period: period.openMessage, notes: notes,
                expectedVersion: expectedVersion.map { CommonV1.Int64Value(value: $0) }
            ))
        }
    }

    /// A BLOCKED / MANUAL_BLOCK record over `period`.
    nonisolated func blockVehicle(
        _ vehicle: UUID, period: Period, reason: String, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> ModerationActionRecord {
        try PlatformOnly.check(invocation.caller)
        return try await moderateVehicle(.blockVehicle, vehicle, notes: reason, invocation) { id in
            .vehicleBlockRequested(EventsV1.VehicleBlockRequested(
                moderationActionId: id, vehicleId: vehicle.lowercasedString, period: period.message, reason: reason,
                expectedVersion: expectedVersion.map { CommonV1.Int64Value(value: $0) }
            ))
        }
    }

    private nonisolated func moderateVehicle(
        _ type: ModerationActionType, _ vehicle: UUID, notes: String, _ invocation: Invocation,
        payload: @escaping @Sendable (String) -> EventsV1.EventEnvelope.PayloadOneof
    ) async throws -> ModerationActionRecord {
        try await bus.mutation(invocation) { work in
            let action = try await ModerationStore.append(
                type, targetType: "vehicle", target: vehicle, notes: notes, caller: invocation.caller, on: work
            )
            let id = action.id.lowercasedString
            let name = type == .suspendVehicle ? "moderation.vehicle_suspension_requested" : "moderation.vehicle_block_requested"
            try await work.publish(EventDraft(name, aggregateType: "moderation_action", aggregateID: id, payload: payload(id)))
            return action
        }
    }

    /// Logs the action, then asks Identity (in this transaction) to disable the user; Identity's
    /// refusal (no such user, stale version, already disabled) fails the whole verb.
    nonisolated func disableUser(
        _ user: UUID, reason: String, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> ModerationActionRecord {
        try PlatformOnly.check(invocation.caller)
        return try await bus.mutation(invocation) { work in
            let action = try await ModerationStore.append(
                .disableUser, targetType: "user", target: user, notes: reason, caller: invocation.caller, on: work
            )
            try await work.publish(EventDraft(
                "moderation.user_disable_requested", aggregateType: "moderation_action", aggregateID: action.id.lowercasedString,
                payload: .userDisableRequested(EventsV1.UserDisableRequested(
                    moderationActionId: action.id.lowercasedString, userId: user.lowercasedString, reason: reason,
                    expectedVersion: expectedVersion.map { CommonV1.Int64Value(value: $0) }
                ))
            ))
            return action
        }
    }

    /// Logs the action, then asks Booking (in this transaction) to terminate the ACTIVE booking
    /// with ADMIN_ACTION; Booking's refusal (no such booking, not ACTIVE, stale version) fails
    /// the whole verb.
    nonisolated func terminateBooking(
        _ booking: UUID, notes: String, expectedVersion: Int64?, _ invocation: Invocation
    ) async throws -> ModerationActionRecord {
        try PlatformOnly.check(invocation.caller)
        return try await bus.mutation(invocation) { work in
            let action = try await ModerationStore.append(
                .terminateBooking, targetType: "booking", target: booking, notes: notes, caller: invocation.caller, on: work
            )
            try await work.publish(EventDraft(
                "moderation.booking_termination_requested", aggregateType: "moderation_action", aggregateID: action.id.lowercasedString,
                payload: .bookingTerminationRequested(EventsV1.BookingTerminationRequested(
                    moderationActionId: action.id.lowercasedString, bookingId: booking.lowercasedString,
                    notes: CommonV1.StringValue(value: notes), expectedVersion: expectedVersion.map { CommonV1.Int64Value(value: $0) }
                ))
            ))
            return action
        }
    }

    /// The moderation log, newest first.
    nonisolated func moderationActions(
        _ filter: ModerationStore.Filter, page: Page<TimeKey>, _ invocation: Invocation
    ) async throws -> [ModerationActionRecord] {
        try PlatformOnly.check(invocation.caller)
        return try await bus.read(invocation) { work in try await ModerationStore.list(filter, after: page.after, limit: page.fetchLimit, on: work) }
    }
}
