import Foundation
import KaroKarKernel
import KaroKarMessages
import KaroKarPostgres
import KaroKarTestSupport
import Testing

/// A consumer new to the database that reads the outbox as a log starts at its registration
/// (`ConsumerStart.now`). The server registers its consumers when it starts, before serving, so an
/// event its first start publishes before the relay runs is still read (the dashboard's count here).
@Suite("Event consumers are registered at start-up")
struct ConsumerRegistrationTests {
    @Test("an event published after start, before the relay first runs, reaches a log consumer new to the database")
    func registeredBeforeTheRelayRuns() async throws {
        let server = try await TestServer.startWithDatabase(background: false)
        let pool = try #require(server.pool)
        let bus = try #require(server.application.bus)
        let booking = UUID.random().lowercasedString
        var payload = EventsV1.BookingRequested()
        payload.bookingId = booking
        _ = try await bus.transaction(.system()) { work in
            try await work.publish(EventDraft("booking.requested", aggregateType: "booking", aggregateID: booking, payload: .bookingRequested(payload)))
        }
        // The relay runs only now (before the fix it registered the consumers itself, after the event).
        let relay = try #require(server.application.relay)
        let running = Task { await relay.run() }
        var counted = false
        let deadline = ContinuousClock.now + .seconds(20)
        while !counted, ContinuousClock.now < deadline {
            counted = try await pool.query("""
                SELECT count(*)::int8 AS n FROM administration.bookings WHERE booking_id = \(UUID(uuidString: booking)!)
                """).single().decode(Int.self, "n") == 1
            if !counted { try await Task.sleep(for: .milliseconds(50)) }
        }
        running.cancel()
        await running.value
        await server.stop()
        #expect(counted, "the dashboard's log consumer read the booking.requested published before the relay ran")
    }
}
