import Foundation
import KaroKarMessages
import KaroKarPostgres
import KaroKarProto
import KaroKarRPC
import KaroKarServices
import KaroKarTestSupport
import Testing

/// Moderation over TCP: Administration logs the verb, Identity applies it in the same
/// transaction (or refuses it, and then nothing is logged either).
@Suite("Administration: moderation", .serialized)
struct ModerationTests {
    @Test func disablingAUserIsLoggedAppliedByIdentityAndEndsTheirTokens() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let staff = try await market.member(of: vendor, role: "VENDOR_STAFF")
            _ = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: staff.callOptions)
            let platform = try await market.platformAdmin()
            let action = try await market.administration.disableUser(
                AdministrationV1.DisableUserRequest(userId: staff.userID, reason: "fraudulent bookings", expectedVersion: CommonV1.Int64Value(value: 1)),
                options: platform.callOptions
            ).action!
            #expect(action.actionType == .disableUser && action.targetId == staff.userID && action.performedBy == platform.userID)
            await expectCode(.unauthenticated) { _ = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: staff.callOptions) }
            let status = try await market.pool.query("SELECT status FROM identity.users WHERE id = \(staff.userID)::uuid").single()
            #expect(try status.decode(String.self, "status") == "DISABLED")
            let event = try await market.pool.query("SELECT envelope FROM karokar_events.outbox WHERE event_type = 'user.disabled'")
                .single().decode(PostgresBytes.self, "envelope")
            let envelope = try ProtoCodec.decode(EventsV1.EventEnvelope.self, from: event.bytes)
            guard case .userDisabled(let payload) = envelope.payload else { Issue.record("payload"); return }
            #expect(payload.moderationActionId?.value == action.id)
            #expect(envelope.actor?.id == platform.userID, "Identity's event carries the moderator as its actor")
            let log = try await market.administration.listModerationActions(
                AdministrationV1.ListModerationActionsRequest(targetId: CommonV1.StringValue(value: staff.userID)), options: platform.callOptions
            )
            #expect(log.actions.map(\.id) == [action.id])
            await #expect(throws: PostgresError.self) { try await market.pool.query("DELETE FROM administration.moderation_actions") }
        }
    }

    @Test func aRefusedModerationLogsNothing() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let platform = try await market.platformAdmin()
            let admin = market.administration
            await expectCode(.notFound) {
                _ = try await admin.disableUser(AdministrationV1.DisableUserRequest(userId: UUID().uuidString.lowercased(), reason: "x"), options: platform.callOptions)
            }
            await expectCode(.aborted, domainCode: "STALE_VERSION") {
                _ = try await admin.disableUser(
                    AdministrationV1.DisableUserRequest(userId: vendor.admin.userID, reason: "x", expectedVersion: CommonV1.Int64Value(value: 9)),
                    options: platform.callOptions
                )
            }
            await expectCode(.failedPrecondition, domainCode: "CANNOT_DISABLE_SELF") {
                _ = try await admin.disableUser(AdministrationV1.DisableUserRequest(userId: platform.userID, reason: "x"), options: platform.callOptions)
            }
            await expectCode(.invalidArgument) {
                _ = try await admin.disableUser(AdministrationV1.DisableUserRequest(userId: vendor.admin.userID, reason: ""), options: platform.callOptions)
            }
            let log = try await admin.listModerationActions(AdministrationV1.ListModerationActionsRequest(), options: platform.callOptions)
            #expect(log.actions.isEmpty)
            _ = try await market.identity.whoAmI(IdentityV1.WhoAmIRequest(), options: vendor.admin.callOptions)
        }
    }

    /// Vehicle moderation is applied by Fleet (FleetContextTests), booking termination by Booking
    /// (BookingContextTests): an unknown booking refuses the verb and nothing is logged.
    @Test func terminatingAnUnknownBookingLogsNothing() async throws {
        try await TestMarketplace.run { market in
            let platform = try await market.platformAdmin()
            let admin = market.administration
            let booking = UUID().uuidString.lowercased()
            await expectCode(.notFound, domainCode: "BOOKING_NOT_FOUND") {
                _ = try await admin.terminateBooking(AdministrationV1.TerminateBookingRequest(bookingId: booking, notes: "x"), options: platform.callOptions)
            }
            let log = try await admin.listModerationActions(AdministrationV1.ListModerationActionsRequest(), options: platform.callOptions)
            #expect(log.actions.isEmpty)
        }
    }

    @Test func theModerationLogIsNewestFirstAndPages() async throws {
        try await TestMarketplace.run { market in
            let vendor = try await market.onboard(.vendor)
            let platform = try await market.platformAdmin()
            var ids: [String] = []
            for _ in 0..<3 {
                let staff = try await market.member(of: vendor, role: "VENDOR_STAFF")
                ids.append(try await market.administration.disableUser(
                    AdministrationV1.DisableUserRequest(userId: staff.userID, reason: "spam"), options: platform.callOptions
                ).action!.id)
            }
            let first = try await market.administration.listModerationActions(
                AdministrationV1.ListModerationActionsRequest(page: CommonV1.PageRequest(pageSize: 2)), options: platform.callOptions
            )
            let second = try await market.administration.listModerationActions(AdministrationV1.ListModerationActionsRequest(
                page: CommonV1.PageRequest(pageSize: 2, pageToken: first.page!.nextPageToken)
            ), options: platform.callOptions)
            #expect((first.actions + second.actions).map(\.id) == ids.reversed())
            #expect(second.page?.nextPageToken == "")
        }
    }
}
