import Foundation
import KaroKarKernel

/// Request expiry: a REQUESTED booking whose period has started, or that waited longer than
/// ``BookingOptions/requestTimeToLive`` (its `expiresAt`, set at submission), is cancelled by the
/// server with reason `EXPIRED` and its `booking.cancelled` event. Each batch claims due bookings
/// with `FOR UPDATE SKIP LOCKED`, so several server processes sweeping at once never cancel one
/// booking twice: a booking another sweep holds is skipped, and once it commits it is no longer
/// REQUESTED.
extension Booking {
    /// The reason expired requests are cancelled with.
    static let expiredReason = "EXPIRED"

    /// `ExpireBookingRequests`: platform administrators sweep every corporate's requests, others
    /// their own corporate's. Returns the bookings this run cancelled.
    nonisolated func expireRequests(_ invocation: Invocation) async throws -> [UUID] {
        let caller = invocation.caller
        return try await expireDue(corporate: caller.actsAcrossTenants ? nil : caller.organizationID, origin: invocation.origin)
    }

    /// Sweeps batch by batch until nothing is due; nil `origin`: the system's own run (each
    /// event in its booking's corporate).
    nonisolated func expireDue(corporate: UUID?, origin: EventOrigin?) async throws -> [UUID] {
        var expired: [UUID] = []
        while true {
            let batch = try await bus.transaction(origin ?? .system()) { work in
                let due = try await BookingStore.claimExpired(
                    at: environment.clock.now(), corporate: corporate, limit: options.expiryBatchSize, work
                )
                for booking in due {
                    let acting = origin == nil ? work.acting(as: .system(organizationID: booking.corporateID.lowercasedString)) : work
                    _ = try await transition(booking.id, .cancel, expectedVersion: nil, caller: .system, acting, authorize: { _, _ in },
                                             apply: { booking, _ in
                        booking.cancelledBy = Caller.system.actorName
                        booking.cancelledAt = booking.updatedAt
                        booking.cancellationReason = Self.expiredReason
                    })
                }
                return due.map(\.id)
            }
            expired += batch
            if batch.count < options.expiryBatchSize { return expired }
        }
    }

    /// The background sweep, every `interval`, until cancelled.
    nonisolated func expirePeriodically(every interval: Duration) async {
        let logger = environment.logger
        while !Task.isCancelled {
            do {
                let expired = try await expireDue(corporate: nil, origin: nil)
                if !expired.isEmpty { logger.notice("booking requests expired", metadata: ["booking.expired": "\(expired.count)"]) }
            } catch {
                logger.warning("booking request expiry sweep failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}
