@testable import KaroKarKernel
import KaroKarPostgres
import Testing

/// A log reader asks ``ConsumerCursors/advanceHorizonFully(pool:)`` whether to read again soon.
/// `advance_horizon` skips a horizon another loop is moving (the relay's fan-out moves it on its
/// own clock); the reader then got the values from before that move and, when they said
/// "caught up", slept until the next commit or poll with the events committed meanwhile unread
/// (`OutboxLogTests.commitsWakeTheReaders` missed its event about one run in eight).
@Suite("Event horizon under contention")
struct HorizonContentionTests {
    @Test("a horizon being moved by another session counts as behind; an idle caught-up one does not")
    func aContendedHorizonIsBehind() async throws {
        let (pool, _) = try await kernelDatabase()
        let bus = EventBus(pool: pool)
        _ = try await ConsumerCursors.advanceHorizonFully(pool: pool)
        let idle = try await ConsumerCursors.advanceHorizonFully(pool: pool)
        #expect(idle.safe == idle.pending && !idle.behind, "\(idle)")
        try await bus.transaction(.system()) { try await $0.publish(vehicleEvent("v-1")) }
        let contended = try await pool.transaction { holder in
            _ = try await holder.query("SELECT id FROM karokar_events.horizon WHERE id = 1 FOR UPDATE")
            return try await ConsumerCursors.advanceHorizonFully(pool: pool)
        }
        // The published event is past what this call could see: it must not say "caught up".
        #expect(contended.safe == idle.safe && contended.behind, "\(contended)")
        // Uncontended again: it moves, and twice makes the event safe.
        _ = try await ConsumerCursors.advanceHorizonFully(pool: pool)
        let after = try await ConsumerCursors.advanceHorizonFully(pool: pool)
        #expect(after.safe > idle.safe, "\(after)")
        await pool.close()
    }
}
